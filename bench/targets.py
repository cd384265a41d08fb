"""The benchmark's performance targets, checked against the records of one run (pure).

Every ratio is taken between medians measured in the same run. Headline rows use the
emulator as a fresh Artifactory has it (Folder Download off); rows that need that admin
setting say so in their name.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.plan import RESET_SIZES, Sizes
from bench.results import Results, ratio

__all__ = [
    "FD",
    "SCALE_STEPS",
    "Target",
    "at_least",
    "at_most",
    "scale_growth",
    "scale_total",
    "targets",
]

#: Suffix of the target rows measured with Folder Download on.
FD = ", Folder Download on (admin setting)"


@dataclass(frozen=True, slots=True)
class Target:
    """One performance target of the benchmark with the measured value."""

    name: str
    goal: str
    measured: float | None
    unit: str
    met: bool | None
    gap: str


def at_least(name: str, value: float | None, goal: float, unit: str = "x") -> Target:
    if value is None:
        return Target(name, f">= {goal:g}{unit}", None, unit, None, "not measured")
    met = value >= goal
    gap = "" if met else f"missed: needs {goal / value:.2f}x more" if value > 0 else "missed"
    return Target(name, f">= {goal:g}{unit}", value, unit, met, gap)


def at_most(name: str, value: float | None, goal: float, unit: str) -> Target:
    if value is None:
        return Target(name, f"<= {goal:g}{unit}", None, unit, None, "not measured")
    met = value <= goal
    gap = "" if met else f"missed by {value - goal:.3g}{unit} ({value / goal:.2f}x the limit)"
    return Target(name, f"<= {goal:g}{unit}", value, unit, met, gap)


def _tree_targets(res: Results) -> list[Target]:
    out: list[Target] = []
    for key, label in (("up_s", "W1"), ("down_s", "W2")):
        ours = res.median("W1/W2", "ours", key)
        jfrog = res.median("W1/W2", "jfrog", key)
        out.append(at_least(f"{label} speed-up vs mlflow-jfrog-plugin", ratio(jfrog, ours), 3))
        s3 = ratio(res.median("W1/W2", "s3", key), ours)
        out.append(at_least(f"{label} speed-up vs S3 store on moto", s3, 5))
    fd = ratio(res.median("W1/W2", "jfrog", "down_s"), res.median("W1/W2", "ours-fd", "down_s"))
    out.append(at_least(f"W2 speed-up vs mlflow-jfrog-plugin{FD}", fd, 3))
    for key, label in (("up_s", "W5 upload"), ("down_s", "W5 download")):
        jfrog = res.median("W5", "jfrog", key)
        name = f"{label} speed-up vs mlflow-jfrog-plugin (20 ms)"
        out.append(at_least(name, ratio(jfrog, res.median("W5", "ours", key)), 10))
    fd = ratio(res.median("W5", "jfrog", "down_s"), res.median("W5", "ours-fd", "down_s"))
    out.append(at_least(f"W5 download speed-up vs mlflow-jfrog-plugin (20 ms){FD}", fd, 10))
    return out


def _per_file_targets(res: Results) -> list[Target]:
    """Client CPU per file against the plain loop; latency hidden on the per-file path."""
    out: list[Target] = []
    # Per file: uploads with archive transfers off; downloads as a stock server makes them.
    for key, label, ours in (("up", "upload", "ours-perfile"), ("down", "download", "ours")):
        cpu = ratio(
            res.median("W1/W2", ours, f"cpu_{key}_s"),
            res.median("W1/W2", "requests", f"cpu_{key}_s"),
        )
        out.append(at_most(f"Per-file {label} client CPU vs plain requests loop", cpu, 1.0, "x"))
    for key, label, ours in (("up_s", "upload", "ours-perfile"), ("down_s", "download", "ours")):
        hidden = ratio(res.median("W5", ours, key), res.median("W1/W2", ours, key))
        out.append(at_most(f"Per-file {label} time, W5 (20 ms) vs W1/W2 (0 ms)", hidden, 1.2, "x"))
    return out


def _big_targets(res: Results) -> list[Target]:
    out: list[Target] = []
    for phase in ("up", "down"):
        vs_curl = ratio(
            res.median("W3", "ours", f"{phase}_seconds"),
            res.median("W3", "curl", f"{phase}_seconds"),
        )
        out.append(at_most(f"W3 {phase}load time vs curl", vs_curl, 1.5, "x"))
        for contender, how in (("ours", ""), ("ours-skinny", ", on mlflow-skinny")):
            rss = res.median("W3", contender, f"{phase}_peak_rss_kib")
            rss_mib = None if rss is None else rss / 1024
            out.append(at_most(f"W3 {phase}load client peak RSS{how}", rss_mib, 150, " MiB"))
        grew = res.median_delta("W3", "ours", f"{phase}_peak_rss_kib", f"{phase}_rss_before_kib")
        grew_mib = None if grew is None else grew / 1024
        out.append(at_most(f"W3 {phase}load RSS growth during the transfer", grew_mib, 150, " MiB"))
    return out


def _walk_targets(res: Results, sizes: Sizes) -> list[Target]:
    files = sizes.walk_tree.files
    reqs = res.median("W4", "ours", "down_requests")
    out = [
        at_most(f"W4 download requests, stock server (N+3 = {files + 3})", reqs, files + 3, ""),
        at_most("W4 walk time (ours)", res.median("W4", "ours", "walk_s"), 2.0, " s"),
    ]
    before = res.median("W4", "ours-perfile-fd", "down_s")
    after = res.median("W4", "ours-fd", "down_s")
    out.append(
        at_least(f"W4 download speed-up vs the per-file fallback{FD}", ratio(before, after), 4)
    )
    return out


def _rps_targets(res: Results) -> list[Target]:
    out: list[Target] = []
    # The stock server (no HTTP code of our own): 4x moto in one process, 5x with two.
    for server, how, goal in (("emulator", "", 4), ("emulator-2w", ", --workers 2", 5)):
        for key, label in (("put_rps", "PUT"), ("get_rps", "GET")):
            vs_moto = ratio(res.median("W6", server, key), res.median("W6", "moto", key))
            out.append(at_least(f"W6 {label} req/s vs moto{how}", vs_moto, goal))
    return out


#: W7's steps, in the order a download takes them; its time target is their sum.
SCALE_STEPS = ("list_s", "plan_s", "walk_s")


def scale_total(res: Results, workload: str) -> float | None:
    """Median over runs of the time of all W7 steps of a run."""
    totals = [
        sum(float(rec.data[k]) for k in SCALE_STEPS)
        for rec in res.records
        if rec.workload == workload
        and "error" not in rec.data
        and "skipped" not in rec.data
        and all(k in rec.data for k in SCALE_STEPS)
    ]
    return statistics.median(totals) if totals else None


def scale_growth(res: Results, sizes: Sizes, key: str) -> float | None:
    """W7: the median of ``key`` at the larger scale over the smaller one (``total_s``:
    all steps; for memory, the growth over the resident memory after the imports)."""
    small, large = (f"W7/{t.files}" for t in sizes.scale_trees)
    if key == "total_s":
        return ratio(scale_total(res, large), scale_total(res, small))
    if key == "hwm_kib":
        return ratio(
            res.median_delta(large, "ours", key, "rss_before_kib"),
            res.median_delta(small, "ours", key, "rss_before_kib"),
        )
    return ratio(res.median(large, "ours", key), res.median(small, "ours", key))


def _scale_targets(res: Results, sizes: Sizes) -> list[Target]:
    small, large = sizes.scale_trees
    files = large.files / small.files
    scale = f"{large.files:,} vs {small.files:,} files"
    out = [
        at_most(
            f"W7 time growth (deep listing + planning + walk), {scale}",
            scale_growth(res, sizes, "total_s"),
            files,
            "x",
        ),
        at_most(
            f"W7 client memory growth, {scale}", scale_growth(res, sizes, "hwm_kib"), files, "x"
        ),
    ]
    for key, what in (("list_requests", "deep listing"), ("walk_requests", "walk")):
        reqs = res.median(f"W7/{large.files}", "ours", key)
        out.append(at_most(f"W7 {what} requests at {large.files:,} files", reqs, 1, ""))
    return out


def _ci_targets(res: Results, sizes: Sizes) -> list[Target]:
    out = [
        at_most("CI fixture reset, empty store", res.median("CI", "fixture", "empty_ms"), 5, " ms")
    ]
    for size in RESET_SIZES:
        name = f"CI fixture reset after {sizes.reset_files:,} files of {size // 1024} KiB"
        out.append(at_most(name, res.median("CI", "fixture", f"after_{size}_ms"), 50, " ms"))
    return out


def targets(res: Results, sizes: Sizes) -> list[Target]:
    """Check every performance target that the run measured."""
    return [
        *_tree_targets(res),
        *_per_file_targets(res),
        *_big_targets(res),
        *_walk_targets(res, sizes),
        *_rps_targets(res),
        *_scale_targets(res, sizes),
        *_ci_targets(res, sizes),
    ]
