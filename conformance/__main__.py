"""``python -m conformance [pytest args]``: run the conformance suite, exit with pytest's code."""

from __future__ import annotations

import sys
from importlib.util import find_spec

#: What every run imports; the ``conformance`` extra brings them. The bundled emulator is
#: only needed without ``--artifactory-url``, and the suite says so itself then.
REQUIRED = ("pytest", "hypothesis")
MISSING_EXTRA = (
    "python -m conformance needs the conformance extra: pip install 'jfrog-mlflow[conformance]'"
)


def main(argv: list[str] | None = None) -> int:
    """Run the suite's test modules with ``--pyargs conformance`` plus ``argv``."""
    missing = [name for name in REQUIRED if find_spec(name) is None]
    if missing:
        # Exit code 4, as for a target the suite cannot use: the run did not start.
        print(f"{MISSING_EXTRA} (missing: {', '.join(missing)})", file=sys.stderr)
        return 4
    import pytest

    args = list(sys.argv[1:] if argv is None else argv)
    # ``python -m`` imported this package before pytest could install its assertion
    # rewriter; only the test modules need rewriting, so that warning is noise here.
    quiet = (
        "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"
    )
    return int(
        pytest.main(["-W", quiet, "-p", "conformance.plugin", "--pyargs", "conformance", *args])
    )


if __name__ == "__main__":
    sys.exit(main())
