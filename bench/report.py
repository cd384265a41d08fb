"""Turn benchmark records into the report (``docs/benchmarks.md``).

Everything here is pure except :func:`write_report`; the chart is :mod:`bench.chart`,
the targets :mod:`bench.targets`, the queries :mod:`bench.results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.plan import RESET_SIZES, Sizes
from bench.results import LABELS, MIB, Results, describe_settings, fmt, ratio
from bench.targets import scale_growth, scale_total, targets

__all__ = ["PREVIOUS_W4_DOWNLOAD", "render_markdown", "write_report"]

#: W4's download with Folder Download on, as the report of 2026-11-27 recorded it for the
#: code before folder splitting (one refused archive request, then one request per file).
PREVIOUS_W4_DOWNLOAD = ("2026-11-27 00:07 UTC", 11.5)
#: How each contender moves a tree (for the client CPU table).
_PATHS = {
    "ours": "archives up; per file down (Folder Download off)",
    "ours-fd": "archives both ways",
    "ours-perfile": "per file",
    "ours-perfile-nobar": "per file, no progress bars",
    "jfrog": "per file",
    "s3": "per file (boto3)",
    "requests": "per file",
    "copy": "local copy",
}


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _vs(res: Results, wl: str, contender: str, key: str, ours: str = "ours") -> str:
    return _x(ratio(res.median(wl, contender, key), res.median(wl, ours, key)))


def _label(c: str) -> str:
    return LABELS.get(c, c)


def _settings_section(res: Results) -> list[str]:
    """Which emulator settings every workload's rows ran against (from the records)."""
    from fake_artifactory.config import EmulatorConfig

    defaults = EmulatorConfig()
    limits = (
        defaults.folder_download_max_files,
        defaults.folder_download_max_size_mb,
        defaults.folder_download_max_parallel,
    )
    rows = []
    for wl in res.workloads():
        by_settings: dict[tuple[str, ...], list[str]] = {}
        for c in res.contenders(wl):
            args = res.settings(wl, c)
            if args is not None:
                by_settings.setdefault(args, []).append(_label(c))
        for args, names in by_settings.items():
            shown = " ".join(args) if args else "(none)"
            rows.append([wl, ", ".join(names), f"`{shown}`", describe_settings(args, limits)])
    if not rows:
        return []
    intro = (
        "Every row of the workloads below talked to an emulator started with these "
        "`fake-artifactory serve` options (beyond a free port and the benchmark's token); "
        "rows not listed do not use the emulator."
    )
    head = ["workload", "rows", "options", "settings"]
    return ["## Emulator settings", "", intro, "", *_table(head, rows)]


def _tree_section(res: Results, wl: str, key: str, title: str, n_files: int) -> list[str]:
    rows = []
    req_key = key.replace("_s", "_requests")
    for c in res.contenders(wl):
        secs = res.median(wl, c, key)
        rows.append(
            [
                _label(c),
                fmt(secs),
                res.spread(wl, c, key),
                fmt(None if not secs else n_files / secs),
                fmt(res.median(wl, c, req_key)),
                _vs(res, wl, c, key),
            ]
        )
    head = ["contender", "median s", "range s", "files/s", "requests", "time vs ours"]
    return [f"### {title}", "", *_table(head, rows)]


def _cpu_section(res: Results, n_files: int) -> list[str]:
    """Client CPU (user + system of the client process) per file, W1 and W2."""
    rows = []
    for c in res.contenders("W1/W2"):
        cells = [_label(c), _PATHS.get(c, "")]
        for key in ("cpu_up_s", "cpu_down_s"):
            cpu = res.median("W1/W2", c, key)
            cells += [
                fmt(None if cpu is None else cpu * 1e6 / n_files),
                _vs(res, "W1/W2", c, key, "requests"),
            ]
        rows.append(cells)
    head = [
        "contender",
        "how files travel",
        "upload µs/file",
        "upload vs plain loop",
        "download µs/file",
        "download vs plain loop",
    ]
    note = (
        "User + system CPU time of the client process during the transfer, all its threads "
        "(`getrusage`), divided by the files; MLflow's own per-file loop is included for "
        "the MLflow plugins, and so are MLflow's progress bars where `tqdm` is installed "
        "(MLflow's download bar is redrawn after every file; our upload bar at tqdm's "
        "pace; the row without bars shows what they cost). The server's CPU is not "
        "counted: on a real deployment it is another machine."
    )
    return ["### Client CPU per file (W1 upload, W2 download)", "", *_table(head, rows), note, ""]


def _latency_section(res: Results, latency_ms: int) -> list[str]:
    """How much of the added latency each contender hides: W5 over W1/W2."""
    rows = []
    for c in res.contenders("W5"):
        cells = [_label(c)]
        for key in ("up_s", "down_s"):
            cells += [
                fmt(res.median("W1/W2", c, key)),
                fmt(res.median("W5", c, key)),
                _x(ratio(res.median("W5", c, key), res.median("W1/W2", c, key))),
            ]
        rows.append(cells)
    head = [
        "contender",
        "upload 0 ms s",
        f"upload {latency_ms} ms s",
        "upload ratio",
        "download 0 ms s",
        f"download {latency_ms} ms s",
        "download ratio",
    ]
    from jfrog_mlflow.config import PluginConfig

    note = (
        "The emulator waits out each request's latency on its event loop, so the "
        f"{PluginConfig().max_workers} requests our plugin keeps in flight "
        "(`MLFLOW_ARTIFACTORY_MAX_WORKERS`) wait at the same time, as they would on a real "
        "server. JFrog's plugin uploads one file at a time (its downloads go "
        "through MLflow's thread pool); the plain loop "
        "keeps 8 requests in flight."
    )
    title = f"### Latency hidden: W5 ({latency_ms} ms per request) against W1/W2 (0 ms)"
    return [title, "", *_table(head, rows), note, ""]


def _big_section(res: Results, sizes: Sizes) -> list[str]:
    rows = []
    mib = sizes.big_bytes / MIB
    for c in res.contenders("W3"):
        up = res.median("W3", c, "up_seconds")
        down = res.median("W3", c, "down_seconds")
        rss_up = res.median("W3", c, "up_peak_rss_kib")
        rss_down = res.median("W3", c, "down_peak_rss_kib")
        base = res.median("W3", c, "up_rss_before_kib")
        rows.append(
            [
                _label(c),
                fmt(None if not up else mib / up),
                fmt(None if not down else mib / down),
                _vs(res, "W3", c, "up_seconds", "curl"),
                _vs(res, "W3", c, "down_seconds", "curl"),
                fmt(None if rss_up is None else rss_up / 1024),
                fmt(None if rss_down is None else rss_down / 1024),
                fmt(None if base is None else base / 1024),
            ]
        )
    head = [
        "contender",
        "upload MiB/s",
        "download MiB/s",
        "up time vs curl",
        "down time vs curl",
        "peak RSS up MiB",
        "peak RSS down MiB",
        "RSS after imports MiB",
    ]
    return [f"### W3 one file of {mib:,.0f} MiB", "", *_table(head, rows)]


def _walk_section(res: Results, files: int, folders: int) -> list[str]:
    rows = []
    for c in res.contenders("W4"):
        rows.append(
            [
                _label(c),
                fmt(res.median("W4", c, "list_s")),
                fmt(res.median("W4", c, "list_requests")),
                fmt(res.median("W4", c, "walk_s")),
                res.spread("W4", c, "walk_s"),
                fmt(res.median("W4", c, "walk_requests")),
                fmt(res.median("W4", c, "walk_files")),
                fmt(res.median("W4", c, "down_s")),
                res.spread("W4", c, "down_s"),
                fmt(res.median("W4", c, "down_requests")),
            ]
        )
    head = [
        "contender",
        "list s",
        "list requests",
        "walk s",
        "walk range s",
        "walk requests",
        "files walked",
        "download s",
        "download range s",
        "download requests",
    ]
    when, seconds = PREVIOUS_W4_DOWNLOAD
    before, after = (
        res.median("W4", "ours-perfile-fd", "down_s"),
        res.median("W4", "ours-fd", "down_s"),
    )
    note = (
        f"Before and after folder splitting, Folder Download on: the tree's {files:,} files "
        "are over the server's file limit, so the code before splitting sent one refused "
        "archive request, then one request per file. The row "
        f'"{_label("ours-perfile-fd")}" makes the '
        f"same per-file requests (without the refused one) on the same server in this run: "
        f"{fmt(before)} s against {fmt(after)} s split into folder archives "
        f"({_x(ratio(before, after))}). The report of {when} recorded {seconds} s for that "
        "download (a figure of that run, not of this one)."
    )
    title = f"### W4 listing, walking and downloading {files} files in {folders} folders"
    return [title, "", *_table(head, rows), note, ""]


def _rps_section(res: Results, sizes: Sizes) -> list[str]:
    rows = []
    for c in res.contenders("W6"):
        rows.append(
            [
                _label(c),
                fmt(res.median("W6", c, "put_rps")),
                res.spread("W6", c, "put_rps"),
                fmt(res.median("W6", c, "get_rps")),
                res.spread("W6", c, "get_rps"),
            ]
        )
    head = ["server", "PUT req/s", "PUT range", "GET req/s", "GET range"]
    title = (
        f"### W6 server alone: {sizes.rps_clients} client processes x {sizes.rps_count} "
        f"requests of {sizes.rps_size} B (a distinct body each)"
    )
    clients = sorted(
        {str(r.data["client"]) for r in res.records if r.workload == "W6" and "client" in r.data}
    )
    note = (
        f"Load generator: `{', '.join(clients) or 'n/a'}` (lean = one `http.client` "
        "connection per process, SigV4-signed for moto; sdk = `requests` / boto3). The "
        "emulator keeps each connection alive; moto's server closes it after every response."
    )
    return [title, "", *_table(head, rows), note, ""]


def _scale_section(res: Results, sizes: Sizes) -> list[str]:
    rows = []
    for tree in sizes.scale_trees:
        wl = f"W7/{tree.files}"
        peak = res.median(wl, "ours", "hwm_kib")
        grew = res.median_delta(wl, "ours", "hwm_kib", "rss_before_kib")
        rows.append(
            [
                f"{tree.files:,}",
                f"{tree.folders:,}",
                fmt(res.median(wl, "ours", "list_s")),
                fmt(res.median(wl, "ours", "list_requests")),
                fmt(res.median(wl, "ours", "plan_s")),
                fmt(res.median(wl, "ours", "walk_s")),
                fmt(res.median(wl, "ours", "walk_requests")),
                fmt(scale_total(res, wl)),
                fmt(None if peak is None else peak / 1024),
                fmt(None if grew is None else grew / 1024),
            ]
        )
    small, large = sizes.scale_trees
    growth = ["list_s", "list_requests", "plan_s", "walk_s", "walk_requests", "total_s", "hwm_kib"]
    ratios = {k: scale_growth(res, sizes, k) for k in growth}
    rows.append(
        [
            "ratio",
            f"{large.files / small.files:g}x",
            _x(ratios["list_s"]),
            _x(ratios["list_requests"]),
            _x(ratios["plan_s"]),
            _x(ratios["walk_s"]),
            _x(ratios["walk_requests"]),
            _x(ratios["total_s"]),
            "",
            _x(ratios["hwm_kib"]),
        ]
    )
    head = [
        "files",
        "folders",
        "deep listing s",
        "listing requests",
        "download planning s",
        "walk s",
        "walk requests",
        "all three s",
        "client peak RSS MiB",
        "RSS growth MiB",
    ]
    note = (
        "Our plugin only; nothing is downloaded. Deep listing: one File List of the whole "
        "tree; download planning: which folder archives fetch it with Folder Download on "
        "(on that listing); walk: MLflow's listing of the tree (`_iter_artifacts_recursive`, "
        'which keeps each file\'s size and checksums for the download). "All three" is '
        "their sum in each run (the time target). RSS growth is the peak over the resident "
        "memory after the imports; the ratio row is the larger scale over the smaller."
    )
    return ["### W7 a tree past 10,000 files, at two scales", "", *_table(head, rows), note, ""]


def _ci_section(res: Results, sizes: Sizes) -> list[str]:
    rows = [
        [
            "`fake-artifactory serve --port 0` to its READY line",
            fmt(res.median("CI", "serve", "ready_s")),
            res.spread("CI", "serve", "ready_s"),
            "s",
        ],
        [
            "pytest fixture reset, empty store",
            fmt(res.median("CI", "fixture", "empty_ms")),
            res.spread("CI", "fixture", "empty_ms"),
            "ms",
        ],
    ]
    for size in RESET_SIZES:
        key = f"after_{size}_ms"
        rows.append(
            [
                f"pytest fixture reset after a test wrote {sizes.reset_files:,} files of "
                f"{size // 1024} KiB",
                fmt(res.median("CI", "fixture", key)),
                res.spread("CI", "fixture", key),
                "ms",
            ]
        )
    make_test = res.median("CI", "make-test", "make_test_s")
    rows.append(
        [
            "the whole `make test` (lint, types, tests, conformance; one run)",
            fmt(make_test) if make_test is not None else "not timed (full runs only)",
            "",
            "s",
        ]
    )
    note = (
        "The fixture reset is what the `fake_artifactory` fixture does before every test "
        "(its handle and `reset()`, two control-plane requests), timed in the process that "
        "runs the emulator in a thread, as a test session does. 4 KiB files are stored "
        "inside SQLite; larger ones get a blob file each."
    )
    head = ["measure", "median", "range", "unit"]
    return ["### CI: the emulator in a test pipeline", "", *_table(head, rows), note, ""]


def render_markdown(
    res: Results,
    sizes: Sizes,
    meta: dict[str, Any],
    notes: str,
    workloads: set[str],
    sources: str = "",
) -> str:
    """Render the whole report; ``sources`` says where its raw runs and history are."""
    t = sizes.tree
    w = sizes.walk_tree
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench`, see `bench/`); do not edit by hand.",
        "Each figure is the median of the runs; contenders alternate run by run so noise",
        "hits all of them; the range column shows the spread. Ratios are measured in this run,",
        "on this machine. Request counts come from the emulator's journal. Headline rows use",
        "the emulator as a fresh Artifactory has it (Folder Download off); rows that need an",
        "administrator to turn Folder Download on say so.",
        *(["", sources] if sources else []),
        "",
        "## Machine and versions",
        "",
        *_table(["item", "value"], [[k, str(v)] for k, v in meta.items()]),
        *_settings_section(res),
        "## Targets",
        "",
    ]
    rows = []
    for tg in targets(res, sizes):
        status = "not measured" if tg.met is None else "met" if tg.met else tg.gap
        measured = "n/a" if tg.measured is None else f"{fmt(tg.measured)}{tg.unit}"
        rows.append([tg.name, tg.goal, measured, status])
    lines += _table(["target", "goal", "measured", "status"], rows)
    desc = f"{t.files} files of {t.size} B in {t.folders} nested folders"
    if "W1" in workloads:
        lines += _tree_section(res, "W1/W2", "up_s", f"W1 log_artifacts: {desc}", t.files)
    if "W2" in workloads:
        lines += _tree_section(res, "W1/W2", "down_s", f"W2 download_artifacts: {desc}", t.files)
    if workloads & {"W1", "W2"}:
        lines += _cpu_section(res, t.files)
    if "W5" in workloads:
        latency = f"{sizes.latency_ms} ms added per request"
        lines += _tree_section(res, "W5", "up_s", f"W5 upload with {latency}", t.files)
        lines += _tree_section(res, "W5", "down_s", f"W5 download with {latency}", t.files)
        lines += _latency_section(res, sizes.latency_ms)
    if "W3" in workloads:
        lines += _big_section(res, sizes)
    if "W4" in workloads:
        lines += _walk_section(res, w.files, w.folders)
    if "W6" in workloads:
        lines += _rps_section(res, sizes)
    if "W7" in workloads:
        lines += _scale_section(res, sizes)
    if "CI" in workloads:
        lines += _ci_section(res, sizes)
    problems = res.problems()
    if problems:
        lines += ["## Failures and skips", ""] + [f"- {p}" for p in problems] + [""]
    if notes.strip():
        lines += ["## Analysis and notes", "", notes.strip(), ""]
    return "\n".join(lines)


def write_report(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
