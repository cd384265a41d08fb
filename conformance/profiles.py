"""Hypothesis settings profiles of the suite (registered on import)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

__all__ = ["FAST", "THOROUGH", "REAL", "register_profiles"]

FAST = "conformance-fast"
THOROUGH = "conformance-thorough"
REAL = "conformance-real"

# Network round trips make timing meaningless: no deadlines anywhere, and the fixture and
# slowness health checks do not apply (the per-session client is safe to share).
_COMMON: dict[str, object] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    "print_blob": True,
    "report_multiple_bugs": False,
}


def register_profiles() -> None:
    """Register the fast (CI, emulator), thorough and real (remote server) profiles."""
    settings.register_profile(FAST, max_examples=10, stateful_step_count=12, **_COMMON)  # type: ignore[arg-type]
    settings.register_profile(
        THOROUGH,
        max_examples=200,
        stateful_step_count=50,
        **_COMMON,  # type: ignore[arg-type]
    )
    # A remote server: few examples, short state machines, no shrinking storm.
    settings.register_profile(
        REAL,
        max_examples=6,
        stateful_step_count=10,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target),
        **_COMMON,  # type: ignore[arg-type]
    )
