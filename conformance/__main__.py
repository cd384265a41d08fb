"""``python -m conformance [pytest args]``: run the conformance suite, exit with pytest's code."""

from __future__ import annotations

import sys

import pytest


def main(argv: list[str] | None = None) -> int:
    """Run the suite's test modules with ``--pyargs conformance`` plus ``argv``."""
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
