"""Turn benchmark records into the report (``docs/benchmarks.md``) and its chart (``.png``).

Aggregation (medians, ratios, target checks) is pure; only :func:`write_report` and
:func:`write_chart` touch the file system.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.workloads import Record, Sizes

__all__ = ["Results", "Target", "render_markdown", "targets", "write_chart", "write_report"]

MIB = 1 << 20
LABELS = {
    "ours": "jfrog-mlflow (ours)",
    "ours-perfile": "jfrog-mlflow, archive transfers off",
    "ours-skinny": "jfrog-mlflow on mlflow-skinny",
    "jfrog": "mlflow-jfrog-plugin",
    "s3": "MLflow S3 store on moto",
    "requests": "raw requests, 8 threads",
    "curl": "curl",
    "copy": "local file copy",
    "emulator": "fake_artifactory",
    "emulator-2w": "fake_artifactory --workers 2",
    "moto": "moto S3 server",
}


def _ok(rec: Record) -> bool:
    return "error" not in rec.data and "skipped" not in rec.data


def _total(value: Any) -> float | None:
    if isinstance(value, dict):
        return float(value.get("total", 0))
    if isinstance(value, (int, float)):
        return float(value)
    return None


class Results:
    """Query helpers over the records of one benchmark run."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = list(records)

    def values(self, workload: str, contender: str, key: str) -> list[float]:
        out: list[float] = []
        for rec in self.records:
            if rec.workload == workload and rec.contender == contender and _ok(rec):
                value = _total(rec.data.get(key))
                if value is not None:
                    out.append(value)
        return out

    def median(self, workload: str, contender: str, key: str) -> float | None:
        vals = self.values(workload, contender, key)
        return statistics.median(vals) if vals else None

    def median_delta(self, workload: str, contender: str, key: str, base: str) -> float | None:
        """Median over runs of ``key - base`` (e.g. peak RSS minus RSS after imports)."""
        vals = []
        for rec in self.records:
            if rec.workload == workload and rec.contender == contender and _ok(rec):
                a, b = _total(rec.data.get(key)), _total(rec.data.get(base))
                if a is not None and b is not None:
                    vals.append(a - b)
        return statistics.median(vals) if vals else None

    def spread(self, workload: str, contender: str, key: str) -> str:
        """``min-max`` of the runs, to show the noise next to each median."""
        vals = self.values(workload, contender, key)
        if len(vals) < 2:
            return ""
        return f"{_fmt(min(vals))}–{_fmt(max(vals))}"

    def contenders(self, workload: str) -> list[str]:
        seen: list[str] = []
        for rec in self.records:
            if rec.workload == workload and rec.contender not in seen:
                seen.append(rec.contender)
        return seen

    def problems(self) -> list[str]:
        out = []
        for rec in self.records:
            for kind in ("skipped", "error"):
                if kind in rec.data:
                    out.append(
                        f"{rec.workload} {rec.contender} run {rec.run}: {kind}: {rec.data[kind]}"
                    )
        return out


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


@dataclass(frozen=True, slots=True)
class Target:
    """One performance target of the benchmark with the measured value."""

    name: str
    goal: str
    measured: float | None
    unit: str
    met: bool | None
    gap: str


def _at_least(name: str, value: float | None, goal: float, unit: str = "x") -> Target:
    if value is None:
        return Target(name, f">= {goal:g}{unit}", None, unit, None, "not measured")
    met = value >= goal
    gap = "" if met else f"missed: needs {goal / value:.2f}x more" if value > 0 else "missed"
    return Target(name, f">= {goal:g}{unit}", value, unit, met, gap)


def _at_most(name: str, value: float | None, goal: float, unit: str) -> Target:
    if value is None:
        return Target(name, f"<= {goal:g}{unit}", None, unit, None, "not measured")
    met = value <= goal
    gap = "" if met else f"missed by {value - goal:.3g}{unit} ({value / goal:.2f}x the limit)"
    return Target(name, f"<= {goal:g}{unit}", value, unit, met, gap)


def targets(res: Results, sizes: Sizes) -> list[Target]:
    """Check every performance target that the run measured."""
    out: list[Target] = []
    for wl, key, label in (("W1/W2", "up_s", "W1"), ("W1/W2", "down_s", "W2")):
        ours = res.median(wl, "ours", key)
        out.append(
            _at_least(
                f"{label} speed-up vs mlflow-jfrog-plugin",
                _ratio(res.median(wl, "jfrog", key), ours),
                3,
            )
        )
        out.append(
            _at_least(
                f"{label} speed-up vs S3 store on moto", _ratio(res.median(wl, "s3", key), ours), 5
            )
        )
    for key, label in (("up_s", "W5 upload"), ("down_s", "W5 download")):
        ratio = _ratio(res.median("W5", "jfrog", key), res.median("W5", "ours", key))
        out.append(_at_least(f"{label} speed-up vs mlflow-jfrog-plugin (20 ms)", ratio, 10))
    for phase in ("up", "down"):
        ratio = _ratio(
            res.median("W3", "ours", f"{phase}_seconds"),
            res.median("W3", "curl", f"{phase}_seconds"),
        )
        out.append(_at_most(f"W3 {phase}load time vs curl", ratio, 1.5, "x"))
        rss = res.median("W3", "ours", f"{phase}_peak_rss_kib")
        rss_mib = None if rss is None else rss / 1024
        out.append(_at_most(f"W3 {phase}load client peak RSS", rss_mib, 150, " MiB"))
        rss = res.median("W3", "ours-skinny", f"{phase}_peak_rss_kib")
        rss_mib = None if rss is None else rss / 1024
        out.append(
            _at_most(f"W3 {phase}load client peak RSS, on mlflow-skinny", rss_mib, 150, " MiB")
        )
        grew = res.median_delta("W3", "ours", f"{phase}_peak_rss_kib", f"{phase}_rss_before_kib")
        grew_mib = None if grew is None else grew / 1024
        out.append(
            _at_most(f"W3 {phase}load RSS growth during the transfer", grew_mib, 150, " MiB")
        )
    files = sizes.walk_tree.files
    reqs = res.median("W4", "ours", "down_requests")
    out.append(_at_most(f"W4 download requests (N+3 = {files + 3})", reqs, files + 3, ""))
    out.append(_at_most("W4 walk time (ours)", res.median("W4", "ours", "walk_s"), 2.0, " s"))
    # The stock server (no HTTP code of our own): 4x moto in one process, 5x with two.
    for server, how, goal in (("emulator", "", 4), ("emulator-2w", ", --workers 2", 5)):
        for key, label in (("put_rps", "PUT"), ("get_rps", "GET")):
            ratio = _ratio(res.median("W6", server, key), res.median("W6", "moto", key))
            out.append(_at_least(f"W6 {label} req/s vs moto{how}", ratio, goal))
    return out


# --------------------------------------------------------------------------- markdown


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _vs(res: Results, wl: str, contender: str, key: str, ours: str = "ours") -> str:
    ratio = _ratio(res.median(wl, contender, key), res.median(wl, ours, key))
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def _tree_section(res: Results, wl: str, key: str, title: str, n_files: int) -> list[str]:
    rows = []
    req_key = key.replace("_s", "_requests")
    for c in res.contenders(wl):
        secs = res.median(wl, c, key)
        rows.append(
            [
                LABELS.get(c, c),
                _fmt(secs),
                res.spread(wl, c, key),
                _fmt(None if not secs else n_files / secs),
                _fmt(res.median(wl, c, req_key)),
                _vs(res, wl, c, key),
            ]
        )
    head = ["contender", "median s", "range s", "files/s", "requests", "time vs ours"]
    return [f"### {title}", "", *_table(head, rows)]


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
        "on this machine. Request counts come from the emulator's journal.",
        *(["", sources] if sources else []),
        "",
        "## Machine and versions",
        "",
        *_table(["item", "value"], [[k, str(v)] for k, v in meta.items()]),
    ]
    lines += ["## Targets", ""]
    rows = []
    for tg in targets(res, sizes):
        status = "not measured" if tg.met is None else "met" if tg.met else tg.gap
        measured = "n/a" if tg.measured is None else f"{_fmt(tg.measured)}{tg.unit}"
        rows.append([tg.name, tg.goal, measured, status])
    lines += _table(["target", "goal", "measured", "status"], rows)
    if workloads & {"W1", "W2"}:
        desc = f"{t.files} files of {t.size} B in {t.folders} nested folders"
        if "W1" in workloads:
            lines += _tree_section(res, "W1/W2", "up_s", f"W1 log_artifacts: {desc}", t.files)
        if "W2" in workloads:
            lines += _tree_section(
                res, "W1/W2", "down_s", f"W2 download_artifacts: {desc}", t.files
            )
    if "W5" in workloads:
        lines += _tree_section(
            res, "W5", "up_s", f"W5 upload with {sizes.latency_ms} ms added per request", t.files
        )
        lines += _tree_section(
            res,
            "W5",
            "down_s",
            f"W5 download with {sizes.latency_ms} ms added per request",
            t.files,
        )
    if "W3" in workloads:
        lines += _big_section(res, sizes)
    if "W4" in workloads:
        lines += _walk_section(res, w.files, w.folders)
    if "W6" in workloads:
        lines += _rps_section(res, sizes)
    problems = res.problems()
    if problems:
        lines += ["## Failures and skips", ""] + [f"- {p}" for p in problems] + [""]
    if notes.strip():
        lines += ["## Analysis and notes", "", notes.strip(), ""]
    return "\n".join(lines)


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
                LABELS.get(c, c),
                _fmt(None if not up else mib / up),
                _fmt(None if not down else mib / down),
                _vs(res, "W3", c, "up_seconds", "curl"),
                _vs(res, "W3", c, "down_seconds", "curl"),
                _fmt(None if rss_up is None else rss_up / 1024),
                _fmt(None if rss_down is None else rss_down / 1024),
                _fmt(None if base is None else base / 1024),
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
                LABELS.get(c, c),
                _fmt(res.median("W4", c, "list_s")),
                _fmt(res.median("W4", c, "list_requests")),
                _fmt(res.median("W4", c, "walk_s")),
                res.spread("W4", c, "walk_s"),
                _fmt(res.median("W4", c, "walk_requests")),
                _fmt(res.median("W4", c, "walk_files")),
                _fmt(res.median("W4", c, "down_s")),
                _fmt(res.median("W4", c, "down_requests")),
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
        "download requests",
    ]
    title = f"### W4 listing and walking {files} files in {folders} folders"
    return [title, "", *_table(head, rows)]


def _rps_section(res: Results, sizes: Sizes) -> list[str]:
    rows = []
    for c in res.contenders("W6"):
        rows.append(
            [
                LABELS.get(c, c),
                _fmt(res.median("W6", c, "put_rps")),
                res.spread("W6", c, "put_rps"),
                _fmt(res.median("W6", c, "get_rps")),
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


def write_report(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --------------------------------------------------------------------------- chart

Panel = tuple[str, str, list[tuple[str, str]], Callable[[float], float], bool]


def write_chart(path: Path, res: Results, sizes: Sizes) -> None:
    """Draw one bar chart per workload (medians) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mib = sizes.big_bytes / MIB
    panels: list[Panel] = [
        ("W1/W2", "W1 upload / W2 download tree (s, log)", [("up_s", "up"), ("down_s", "down")],
         lambda v: v, True),
        ("W5", f"W5 tree with {sizes.latency_ms} ms latency (s, log)",
         [("up_s", "up"), ("down_s", "down")], lambda v: v, True),
        ("W3", f"W3 {mib:,.0f} MiB file (MiB/s, log)",
         [("up_seconds", "up"), ("down_seconds", "down")], lambda v: mib / v if v else 0.0, True),
        ("W3", "W3 client peak RSS (MiB)",
         [("up_peak_rss_kib", "up"), ("down_peak_rss_kib", "down")], lambda v: v / 1024, False),
        ("W4", "W4 walk tree (s, log)", [("walk_s", "walk")], lambda v: v, True),
        ("W6", "W6 server requests/s", [("put_rps", "PUT"), ("get_rps", "GET")],
         lambda v: v, False),
    ]  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    for ax, (wl, title, series, conv, logy) in zip(axes.flat, panels, strict=True):
        contenders = res.contenders(wl)
        ax.set_title(title, fontsize=10)
        if not contenders:
            ax.text(0.5, 0.5, "not run", ha="center", va="center")
            ax.set_axis_off()
            continue
        width = 0.8 / len(series)
        for i, (key, label) in enumerate(series):
            vals = []
            for c in contenders:
                m = res.median(wl, c, key)
                vals.append(conv(m) if m is not None else 0.0)
            xs = [x + i * width for x in range(len(contenders))]
            ax.bar(xs, vals, width=width, label=label)
        ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(contenders))])
        ax.set_xticklabels([LABELS.get(c, c) for c in contenders], rotation=25, ha="right")
        ax.tick_params(axis="x", labelsize=8)
        if logy:
            ax.set_yscale("log")
        if len(series) > 1:
            ax.legend(fontsize=8)
    fig.suptitle("jfrog-mlflow benchmarks (medians; lower is better for seconds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
