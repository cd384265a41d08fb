"""Queries over the records of one benchmark run, and how their figures are shown (pure).

:class:`Results` answers medians, spreads and ratios per (workload, contender, key);
:func:`describe_settings` says in words what an emulator was started with, so the report
states every workload's server settings from the records themselves.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from bench.plan import Record

__all__ = ["LABELS", "MIB", "Results", "describe_settings", "fmt", "ratio"]

MIB = 1 << 20
LABELS = {
    "ours": "jfrog-mlflow (ours)",
    "ours-fd": "jfrog-mlflow, Folder Download on",
    "ours-perfile": "jfrog-mlflow, archive transfers off",
    "ours-perfile-fd": "jfrog-mlflow per file, Folder Download on",
    "ours-perfile-nobar": "jfrog-mlflow, archive transfers and MLflow's progress bars off",
    "ours-skinny": "jfrog-mlflow on mlflow-skinny",
    "jfrog": "mlflow-jfrog-plugin",
    "s3": "MLflow S3 store on moto",
    "requests": "plain pooled requests loop, 8 threads",
    "curl": "curl",
    "copy": "local file copy",
    "emulator": "fake_artifactory",
    "emulator-2w": "fake_artifactory --workers 2",
    "moto": "moto S3 server",
    "serve": "fake-artifactory serve",
    "fixture": "pytest fixture fake_artifactory",
    "make-test": "make test",
}


def _ok(rec: Record) -> bool:
    return "error" not in rec.data and "skipped" not in rec.data


def _total(value: Any) -> float | None:
    if isinstance(value, dict):
        return float(value.get("total", 0))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
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
        return f"{fmt(min(vals))}–{fmt(max(vals))}"

    def contenders(self, workload: str) -> list[str]:
        seen: list[str] = []
        for rec in self.records:
            if rec.workload == workload and rec.contender not in seen:
                seen.append(rec.contender)
        return seen

    def workloads(self) -> list[str]:
        seen: list[str] = []
        for rec in self.records:
            if rec.workload not in seen:
                seen.append(rec.workload)
        return seen

    def settings(self, workload: str, contender: str) -> tuple[str, ...] | None:
        """The emulator options the contender's runs of ``workload`` used (None: none)."""
        for rec in self.records:
            if rec.workload == workload and rec.contender == contender:
                args = rec.data.get("emulator_args")
                if args is not None:
                    return tuple(str(a) for a in args)
        return None

    def problems(self) -> list[str]:
        out = []
        for rec in self.records:
            for kind in ("skipped", "error"):
                if kind in rec.data:
                    out.append(
                        f"{rec.workload} {rec.contender} run {rec.run}: {kind}: {rec.data[kind]}"
                    )
        return out


def fmt(value: float | None, digits: int = 3) -> str:
    """A figure with three significant digits (thousands separated from 100 up)."""
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def describe_settings(args: Sequence[str], limits: tuple[int, int, int] = (5000, 1024, 10)) -> str:
    """The emulator's settings in words, from the ``serve`` options it was started with.

    ``limits``: its Folder Download defaults (files, MB, parallel downloads), shown when
    the options turn Folder Download on without changing them.
    """
    words: list[str] = []
    rest = list(args)
    folder_download = "--folder-download" in rest
    if folder_download:
        rest.remove("--folder-download")
        files, size_mb, parallel = limits
        words.append(
            f"Folder Download on (an admin setting; limits {files:,} files, {size_mb:,} MB, "
            f"{parallel} in parallel)"
        )
    else:
        words.append("as a fresh Artifactory (Pro, Folder Download off)")
    named = {"--latency-ms": "{} ms added to every request", "--workers": "{} worker processes"}
    other: list[str] = []
    i = 0
    while i < len(rest):
        if rest[i] in named and i + 1 < len(rest):
            words.append(named[rest[i]].format(rest[i + 1]))
            i += 2
        else:
            other.append(rest[i])
            i += 1
    if other:
        words.append("options " + " ".join(other))
    return "; ".join(words)
