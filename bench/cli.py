"""Command line of the benchmark: ``python -m bench [--quick] [--only W1,W2] [--runs N]``."""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.chart import write_chart
from bench.plan import FULL, QUICK, Record, Sizes
from bench.report import render_markdown, write_report
from bench.results import Results
from bench.venv import REPO_ROOT, ensure_competitor_venv, ensure_skinny_venv
from bench.workloads import ALL_WORKLOADS, Runner

__all__ = ["build_parser", "machine_info", "main"]

log = logging.getLogger("bench")

#: Hand-written analysis of the recorded run, copied into the report (full runs only).
ANALYSIS_FILE = REPO_ROOT / "bench" / "analysis.md"
#: Raw runs of the current report; ``--from-records`` re-renders the report from them.
RECORDS_FILE = REPO_ROOT / "bench" / "records" / "latest.json"
#: Where the report goes by default (``docs/benchmarks.md`` and its chart).
DEFAULT_OUT = REPO_ROOT / "docs"
#: Dated history: what changed between recorded runs, experiments outside the report.
HISTORY_FILE = REPO_ROOT / "bench" / "NOTES.md"
_MAIN_PACKAGES = ("jfrog-mlflow", "mlflow", "requests", "urllib3", "flask", "gevent")
_COMPETITOR_PACKAGES = ("mlflow", "mlflow-jfrog-plugin", "moto", "boto3")


def _workloads_arg(value: str) -> set[str]:
    chosen = {w.strip().upper() for w in value.split(",") if w.strip()}
    unknown = chosen - set(ALL_WORKLOADS)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown workload(s) {sorted(unknown)}")
    return chosen


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one run (for CI)")
    parser.add_argument(
        "--only", type=_workloads_arg, default=set(ALL_WORKLOADS), help="e.g. W1,W2"
    )
    parser.add_argument("--runs", type=int, default=None, help="runs per contender (default 3)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder of the report and chart"
    )
    parser.add_argument(
        "--records",
        type=Path,
        default=None,
        help=f"where to write the raw runs (default: {_shown(RECORDS_FILE)} for a full run "
        "writing the report to docs/, records.json beside the report for one written "
        "elsewhere; a --quick run writes none unless given)",
    )
    parser.add_argument(
        "--contenders",
        default=None,
        help="comma list to restrict contenders (ours, ours-fd, ours-perfile, ours-perfile-fd, "
        "ours-perfile-nobar, ours-skinny, jfrog, s3, requests, curl, copy, emulator, "
        "emulator-2w, moto)",
    )
    parser.add_argument(
        "--no-venv",
        action="store_true",
        help="do not build bench/.venv-competitors and .venv-skinny; their contenders are skipped",
    )
    parser.add_argument("--work-dir", type=Path, default=None, help="scratch (default: a tmp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--from-records",
        type=Path,
        default=None,
        help=f"re-render the report from saved raw runs (e.g. {_shown(RECORDS_FILE)})",
    )
    return parser


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _versions_in(python: str, packages: tuple[str, ...]) -> dict[str, str]:
    code = (
        "import sys\nfrom importlib import metadata\n"
        "for p in sys.argv[1:]:\n"
        "    try: print(p, metadata.version(p))\n"
        "    except metadata.PackageNotFoundError: print(p, 'not installed')\n"
    )
    out = subprocess.run(
        [python, "-c", code, *packages], capture_output=True, text=True, check=False
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def machine_info(
    competitor_python: Path | None, skinny_python: Path | None = None
) -> dict[str, Any]:
    """Machine details, date and versions for the report header."""
    info: dict[str, Any] = {
        "date (UTC)": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "nproc": os.cpu_count(),
        "CPU": _cpu_model(),
        "RAM": _ram(),
        "OS": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    for pkg in _MAIN_PACKAGES:
        try:
            info[f"{pkg} (project env)"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[f"{pkg} (project env)"] = "not installed"
    if competitor_python is not None:
        for pkg, ver in _versions_in(str(competitor_python), _COMPETITOR_PACKAGES).items():
            info[f"{pkg} (competitors' env)"] = ver
    if skinny_python is not None:
        for pkg, ver in _versions_in(str(skinny_python), ("mlflow-skinny",)).items():
            info[f"{pkg} (skinny env)"] = ver
    curl = shutil.which("curl")
    if curl:
        first = subprocess.run([curl, "--version"], capture_output=True, text=True).stdout
        info["curl"] = first.split("\n", 1)[0].split(" (")[0]
    return info


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (for messages and links)."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _link(path: Path, out: Path) -> str:
    """A Markdown link to ``path`` from a report written into ``out``."""
    return f"[`{_shown(path)}`]({os.path.relpath(path.resolve(), out.resolve())})"


def _sources_note(records: Path | None, out: Path) -> str:
    """The report's lines on where its raw runs and the benchmark's history are."""
    if records is None:
        kept = "Raw runs: not kept (a --quick run without --records)."
    else:
        kept = (
            f"Raw runs: {_link(records, out)}; `python -m bench --from-records "
            f"{_shown(records)}` re-renders this report."
        )
    return f"{kept}\nWhat changed between recorded runs: {_link(HISTORY_FILE, out)}."


def _render(
    args: argparse.Namespace,
    records: list[Record],
    meta: dict[str, Any],
    sizes: Sizes,
    saved: Path | None,
) -> None:
    notes = ANALYSIS_FILE.read_text() if ANALYSIS_FILE.exists() and not args.quick else ""
    results = Results(records)
    text = render_markdown(results, sizes, meta, notes, args.only, _sources_note(saved, args.out))
    write_report(args.out / "benchmarks.md", text)
    write_chart(args.out / "benchmarks.png", results, sizes)
    log.info("wrote %s and %s", args.out / "benchmarks.md", args.out / "benchmarks.png")


def _default_records(args: argparse.Namespace) -> Path | None:
    """Where a run keeps its raw records when ``--records`` is not given.

    Only a full run that writes the repository's report replaces ``bench/records/latest.json``
    (the raw runs of that report); a run writing its report elsewhere keeps its records beside
    that report, so a partial or experimental run never overwrites the published records.
    """
    if args.quick:
        return None
    if args.out.resolve() == DEFAULT_OUT.resolve():
        return RECORDS_FILE
    return Path(args.out) / "records.json"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the report; returns the process exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else 3)
    if args.from_records is not None:
        saved = json.loads(args.from_records.read_text())
        records = [Record(**r) for r in saved["records"]]
        _render(args, records, saved["meta"], sizes, args.from_records)
        return 0
    competitor_python = None if args.no_venv else ensure_competitor_venv()
    skinny_python = None if args.no_venv else ensure_skinny_venv()
    contenders = (
        frozenset(c.strip() for c in args.contenders.split(",")) if args.contenders else None
    )
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="jfrog-mlflow-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    meta = machine_info(competitor_python, skinny_python)
    meta["mode"] = f"{'quick' if args.quick else 'full'}, {runs} run(s) per contender"
    runner = Runner(sizes, runs, work, competitor_python, contenders, skinny_python)
    try:
        runner.run(args.only)
    finally:
        runner.close()
    meta["load average at end (1/5/15 min)"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    saved = {"meta": meta, "records": [dataclasses.asdict(r) for r in runner.records]}
    (work / "records.json").write_text(json.dumps(saved, indent=1))
    kept = args.records or _default_records(args)
    if kept is not None:  # the raw runs of the report: re-render with --from-records
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(saved, indent=1))
    _render(args, runner.records, meta, sizes, kept)
    if not args.keep and args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log.info("scratch and child logs kept in %s", work)
    failed = [r for r in runner.records if "error" in r.data]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
