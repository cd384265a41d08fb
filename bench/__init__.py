"""Benchmark harness for ``jfrog_mlflow`` and ``fake_artifactory`` (``make bench``).

The harness compares our MLflow artifact repository against JFrog's own plugin
(``mlflow-jfrog-plugin``), MLflow's S3 store on a local moto server and raw baselines
(``curl``, a plain ``requests`` loop, a local copy). Competitors live only in a separate
virtual environment (``bench/.venv-competitors``) so the project's own environment stays
clean; every contender runs in a child process of the right interpreter and reports its
timings, request counts and peak memory as JSON.

Layout:

* :mod:`bench.cli` parses options and drives the run (``python -m bench``);
* :mod:`bench.venv` creates or refreshes the competitors' environment;
* :mod:`bench.servers` starts the emulator and moto as real processes;
* :mod:`bench.trees` builds the local trees of files the workloads upload;
* :mod:`bench.plan` holds the workload sizes and the record of a run, and
  :mod:`bench.workloads` schedules the runs (alternating contenders) in the parent, with
  :mod:`bench.processes` timing child processes (peak memory, READY, ``make test``);
* :mod:`bench.child` is the code each child process runs (one contender, one action;
  :mod:`bench.seed` the actions that set the stage: seeding trees, the fixture's reset);
* :mod:`bench.rps` is W6, the servers' request rate under many small requests, and
  :mod:`bench.clients` what the child modules share (spec types, HTTP and S3 clients);
* :mod:`bench.report` writes ``docs/benchmarks.md`` and ``docs/benchmarks.png``.

Beside the code: ``records/latest.json`` holds the raw runs of the current report
(``python -m bench --from-records`` re-renders it), ``analysis.md`` the hand-written analysis
of that run (copied into the report) and ``NOTES.md`` the dated history of the benchmark.
"""
