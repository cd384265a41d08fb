"""Result bookkeeping: per-part counts, the JSON report and the terminal summary lines."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from conformance.fidelity import PROPERTY_PREFIX, build_report, write_report
from conformance.redact import Redactor

__all__ = ["Outcome", "ResultBook", "part_of"]

PARTS = ("rest", "stateful", "plugin")
STATUSES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def part_of(nodeid: str) -> str:
    """Which part of the suite a test belongs to."""
    if "test_stateful" in nodeid:
        return "stateful"
    if "test_plugin" in nodeid:
        return "plugin"
    return "rest"


@dataclass
class Outcome:
    """Final status of one test, and what it observed of the server (already redacted)."""

    test: str
    status: str
    reason: str = ""
    observed: dict[str, str] = field(default_factory=dict)
    #: The documented behaviour the check verifies (``conformance.references``), or "".
    reference: str = ""
    #: Fidelity probes this test recorded: key -> record (``conformance.fidelity``).
    fidelity: dict[str, str] = field(default_factory=dict)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def _failure_reason(report: pytest.TestReport) -> str:
    lines = [ln for ln in report.longreprtext.splitlines() if ln.startswith("E ")]
    text = lines[0][1:].strip() if lines else report.longreprtext.strip()[-300:]
    return text[:300]


#: Name prefix of the checks that probe one fidelity row each (``test_fidelity_<key>``).
FIDELITY_CHECK_PREFIX = "test_fidelity_"
#: Title of the report section holding a failed test's last requests (set by the plugin).
TRANSCRIPT_SECTION = "conformance: last requests to the server"
#: Title of the failure-text section naming the documented behaviour a check verifies.
REFERENCE_SECTION = "conformance: documented behaviour"
#: Report attribute (set by the plugin, carried by pytest-xdist) holding that reference.
REFERENCE_ATTR = "conformance_reference"


def _last_exchange(report: pytest.TestReport) -> str:
    for title, text in report.sections:
        if title == TRANSCRIPT_SECTION and text:
            return text.splitlines()[-1][:300]
    return ""


@dataclass
class ResultBook:
    """Collects every test's outcome from ``pytest_runtest_logreport``."""

    redactor: Redactor = field(default_factory=Redactor)
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def add(self, report: pytest.TestReport) -> None:
        """Fold one phase report into the test's final outcome."""
        nodeid = report.nodeid
        current = self.outcomes.get(nodeid)
        outcome: Outcome | None = None
        wasxfail = getattr(report, "wasxfail", None)
        if report.failed:
            status = "failed" if report.when == "call" else "error"
            reason = _failure_reason(report)
            last = _last_exchange(report)
            if last:
                reason = f"{reason} | last request: {last}"
            outcome = Outcome(nodeid, status, reason)
        elif report.skipped:
            if wasxfail is not None:
                outcome = Outcome(nodeid, "xfailed", str(wasxfail))
            else:
                outcome = Outcome(nodeid, "skipped", _skip_reason(report))
        elif report.when == "call":
            status = "xpassed" if wasxfail is not None else "passed"
            outcome = Outcome(nodeid, status, str(wasxfail or ""))
        if outcome is None:
            return
        if current is not None and current.status in ("failed", "error"):
            return
        outcome.reason = self.redactor.redact(outcome.reason)
        # The ``observe`` fixture's values (test properties); every phase report carries
        # the full list, so the last phase seen wins.
        properties = [
            (str(name), self.redactor.redact(str(value))) for name, value in report.user_properties
        ]
        outcome.observed = {n: v for n, v in properties if not n.startswith(PROPERTY_PREFIX)}
        outcome.fidelity = {
            n[len(PROPERTY_PREFIX) :]: v for n, v in properties if n.startswith(PROPERTY_PREFIX)
        }
        outcome.reference = str(getattr(report, REFERENCE_ATTR, "") or "")
        self.outcomes[nodeid] = outcome

    def counts(self) -> dict[str, Counter[str]]:
        """status counts per part."""
        out: dict[str, Counter[str]] = {p: Counter() for p in PARTS}
        for o in self.outcomes.values():
            out[part_of(o.test)][o.status] += 1
        return out

    def write_json(self, path: str) -> None:
        """``[{"test", "status", "reason", "reference", "observed"}, ...]`` sorted by test id.

        ``reference`` names the documented behaviour the check verifies (the sections of the
        project's references and JFrog's documentation page). ``observed`` maps names to
        what the test saw of the server (``observe`` fixture), kept even when the test
        passed: on a real server these confirm or correct the emulator's medium- and
        low-confidence behaviour.
        """
        rows: list[dict[str, Any]] = [
            {
                "test": o.test,
                "status": o.status,
                "reason": o.reason,
                "reference": o.reference,
                "observed": o.observed,
            }
            for o in sorted(self.outcomes.values(), key=lambda o: o.test)
        ]
        Path(path).write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n", "utf-8")

    def write_fidelity(self, path: str, target: dict[str, Any]) -> None:
        """The fidelity report (:func:`conformance.fidelity.build_report`): every probe's
        record, and for a probe whose check recorded nothing, that check's outcome."""
        records: dict[str, dict[str, Any]] = {}
        why: dict[str, str] = {}
        for outcome in self.outcomes.values():
            for key, text in outcome.fidelity.items():
                records[key] = json.loads(text)
            name = outcome.test.rsplit("::", 1)[-1]
            if name.startswith(FIDELITY_CHECK_PREFIX) and not outcome.fidelity:
                key = name[len(FIDELITY_CHECK_PREFIX) :].replace("_", "-")
                why[key] = f"{outcome.status}: {outcome.reason}".rstrip(": ")
        write_report(path, build_report(records, target, why))

    def summary_lines(self) -> list[str]:
        """One line per part: ``rest: 12 passed, 1 xfailed``."""
        lines = []
        for part, counter in self.counts().items():
            shown = ", ".join(f"{counter[s]} {s}" for s in STATUSES if counter[s]) or "none run"
            lines.append(f"  {part:<9} {shown}")
        observing = [o for o in self.outcomes.values() if o.observed]
        if observing:
            values = sum(len(o.observed) for o in observing)
            lines.append(
                f"observed: {values} server behaviours in {len(observing)} tests "
                "(JSON report 'observed', JUnit properties)"
            )
        return lines
