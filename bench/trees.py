"""Deterministic local trees of files for the upload workloads (pure apart from writing them)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TreeSpec", "folder_names", "make_big_file", "make_tree", "tree_files"]


@dataclass(frozen=True, slots=True)
class TreeSpec:
    """``files`` files of ``size`` bytes spread evenly over ``folders`` nested folders."""

    files: int
    folders: int
    size: int


def folder_names(folders: int) -> list[str]:
    """Return ``folders`` relative folder paths, two levels deep (``dNN`` and ``dNN/sNN``).

    About the square root of the count are top-level folders; the rest are spread over
    them as sub-folders, so the tree is both wide and nested like a logged model.
    """
    if folders < 1:
        raise ValueError("a tree needs at least one folder")
    top = max(1, math.isqrt(folders))
    names = [f"d{i:03d}" for i in range(top)]
    for j in range(folders - top):
        names.append(f"d{j % top:03d}/s{j // top:03d}")
    return names


def tree_files(spec: TreeSpec, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """The tree's files in order: ``(relative POSIX path, content)``, generated lazily.

    Contents are pseudo-random so no store can deduplicate them; the same ``spec`` and
    ``seed`` give the same files (so a store can be seeded without a local copy).
    """
    rng = random.Random(seed)
    folders = folder_names(spec.folders)
    for i in range(spec.files):
        yield f"{folders[i % len(folders)]}/f{i:06d}.bin", rng.randbytes(spec.size)


def make_tree(root: Path, spec: TreeSpec, seed: int = 0) -> list[str]:
    """Write the tree under ``root`` and return the relative file paths (POSIX style)."""
    paths: list[str] = []
    for rel, content in tree_files(spec, seed):
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        paths.append(rel)
    return paths


def make_big_file(path: Path, size: int, seed: int = 0) -> None:
    """Write ``size`` pseudo-random bytes to ``path`` in 8 MiB blocks (flat memory)."""
    rng = random.Random(seed)
    block = 8 << 20
    with path.open("wb") as out:
        remaining = size
        while remaining > 0:
            n = min(block, remaining)
            out.write(rng.randbytes(n))
            remaining -= n
