"""``python -m bench``: run the benchmark; write docs/benchmarks.md, .png and bench/records/."""

from bench.cli import main

raise SystemExit(main())
