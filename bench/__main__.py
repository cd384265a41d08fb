"""``python -m bench``: run the benchmark and write docs/benchmarks.md and .png."""

from bench.cli import main

raise SystemExit(main())
