"""What a benchmark run measures: workload sizes (:data:`FULL`, :data:`QUICK`), the record
of one child run, and the order contenders take turns in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.trees import TreeSpec

__all__ = ["FULL", "QUICK", "RESET_SIZES", "Record", "Sizes", "hash_seed", "rotate"]

#: CI: sizes of the files a test writes before the timed reset (inline in SQLite; a file).
RESET_SIZES = (4096, 128 * 1024)


@dataclass(frozen=True, slots=True)
class Sizes:
    """Workload sizes; :data:`FULL` for the report, :data:`QUICK` keeps CI fast."""

    tree: TreeSpec
    big_bytes: int
    walk_tree: TreeSpec
    rps_clients: int
    rps_count: int
    rps_size: int
    #: W7's two scales (the second ten times the first): listing, walk and planning only.
    scale_trees: tuple[TreeSpec, TreeSpec]
    #: CI: files a test writes before the reset that is timed (two sizes: inline, blob file).
    reset_files: int
    latency_ms: int = 20
    #: CI: the whole ``make test`` is timed only in a full run (it takes minutes).
    time_make_test: bool = False


FULL = Sizes(
    tree=TreeSpec(files=2000, folders=60, size=4096),
    big_bytes=1 << 30,
    walk_tree=TreeSpec(files=10_000, folders=500, size=1024),
    rps_clients=8,
    rps_count=400,
    rps_size=1024,
    scale_trees=(
        TreeSpec(files=10_000, folders=500, size=64),
        TreeSpec(files=100_000, folders=5_000, size=64),
    ),
    reset_files=1000,
    time_make_test=True,
)
QUICK = Sizes(
    tree=TreeSpec(files=30, folders=6, size=4096),
    big_bytes=4 << 20,
    walk_tree=TreeSpec(files=60, folders=10, size=512),
    rps_clients=8,
    rps_count=10,
    rps_size=1024,
    scale_trees=(
        TreeSpec(files=200, folders=10, size=64),
        TreeSpec(files=2000, folders=100, size=64),
    ),
    reset_files=100,
)


@dataclass(slots=True)
class Record:
    """One child run: which workload, contender and run, and what it reported."""

    workload: str
    contender: str
    run: int
    data: dict[str, Any] = field(default_factory=dict)


def hash_seed(run: int, contender: str) -> int:
    """A stable seed per (run, contender) (``hash()`` of a str changes per process)."""
    return run * 1000 + sum(ord(ch) * (i + 1) for i, ch in enumerate(contender))


def rotate(items: Sequence[str], run: int) -> list[str]:
    """Return ``items`` rotated left by ``run`` (alternates who goes first)."""
    if not items:
        return []
    k = run % len(items)
    return list(items[k:]) + list(items[:k])
