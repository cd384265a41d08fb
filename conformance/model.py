"""A tiny in-memory model of an Artifactory folder tree: what the server should hold.

The model is the oracle of the listing, deletion and stateful tests. Paths are relative to
the model's root (``""``); folders are explicit (Artifactory keeps a folder after its last
file is deleted, and creates missing parents implicitly on deploy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.paths import basename, is_under, join, parent, relative_to

__all__ = ["Entry", "TreeModel", "ParentIsFile", "checksums"]


class ParentIsFile(Exception):
    """A deploy or folder creation below an existing file (Artifactory answers 400)."""


def checksums(data: bytes) -> dict[str, str]:
    """The three checksums Artifactory reports for ``data``."""
    return {
        "sha1": hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        "md5": hashlib.md5(data, usedforsecurity=False).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


@dataclass(frozen=True, slots=True)
class Entry:
    """One listing entry relative to the listed folder: ``uri`` is ``/a/b``."""

    uri: str
    folder: bool
    size: int


@dataclass
class TreeModel:
    """Files (path -> bytes) and folders of one subtree; the root ``""`` always exists."""

    files: dict[str, bytes] = field(default_factory=dict)
    folders: set[str] = field(default_factory=lambda: {""})

    @classmethod
    def from_files(cls, files: dict[str, bytes], folders: Iterable[str] = ()) -> TreeModel:
        """Build a model by deploying ``files`` and creating ``folders``."""
        model = cls()
        for folder in folders:
            model.mkdir(folder)
        for path, data in files.items():
            model.deploy(path, data)
        return model

    def _ensure_folder(self, path: str) -> None:
        if path in self.files:
            raise ParentIsFile(path)
        if path in self.folders:
            return
        self._ensure_folder(parent(path))
        self.folders.add(path)

    def deploy(self, path: str, data: bytes) -> None:
        """Store a file, creating missing parent folders."""
        if path in self.folders:
            raise IsADirectoryError(path)
        self._ensure_folder(parent(path))
        self.files[path] = data

    def mkdir(self, path: str) -> None:
        """Create a folder and its missing ancestors (idempotent)."""
        self._ensure_folder(path)

    def parent_is_file(self, path: str) -> bool:
        """True when some ancestor of ``path`` is a file."""
        p = parent(path)
        while p:
            if p in self.files:
                return True
            p = parent(p)
        return False

    def exists(self, path: str) -> bool:
        """True for an existing file or folder."""
        return path in self.files or path in self.folders

    def delete(self, path: str) -> bool:
        """Delete a file or a whole folder subtree; False when nothing was there."""
        if path in self.files:
            del self.files[path]
            return True
        if path not in self.folders or path == "":
            return False
        for f in [f for f in self.files if is_under(f, path)]:
            del self.files[f]
        self.folders = {d for d in self.folders if not is_under(d, path)}
        return True

    def children(self, folder: str) -> dict[str, bool]:
        """Direct children of ``folder``: name -> is_folder."""
        out: dict[str, bool] = {}
        for f in self.files:
            if f and parent(f) == folder:
                out[basename(f)] = False
        for d in self.folders:
            if d and parent(d) == folder:
                out[basename(d)] = True
        return out

    def deep_list(
        self, folder: str = "", *, depth: int | None = None, list_folders: bool = True
    ) -> set[Entry]:
        """What ``?list&deep=1`` on ``folder`` should return (without the root entry).

        ``depth`` counts levels below ``folder``: 1 means direct children only.
        """
        out: set[Entry] = set()
        for f, data in self.files.items():
            if f and is_under(f, folder) and f != folder:
                rel = relative_to(f, folder)
                if depth is None or rel.count("/") < depth:
                    out.add(Entry("/" + rel, False, len(data)))
        if list_folders:
            for d in self.folders:
                if d and d != folder and is_under(d, folder):
                    rel = relative_to(d, folder)
                    if depth is None or rel.count("/") < depth:
                        out.add(Entry("/" + rel, True, -1))
        return out

    def subtree_paths(self, folder: str) -> set[str]:
        """Every file and folder path strictly below ``folder``."""
        return {p for p in (*self.files, *self.folders) if p != folder and is_under(p, folder)}

    def rebased(self, prefix: str) -> dict[str, bytes]:
        """The files with ``prefix`` prepended to each path."""
        return {join(prefix, p): d for p, d in self.files.items()}
