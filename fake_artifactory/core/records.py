"""The records the store keeps and the rules of repo-relative paths (pure data)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def now_ms() -> int:
    """Current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def name_of(path: str) -> str:
    """Last segment of a repo-relative path (``""`` for the root)."""
    return path.rsplit("/", 1)[-1]


def parent_of(path: str) -> str:
    """Parent of a repo-relative path (``""`` for top-level items and the root)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""


def ancestors(path: str) -> list[str]:
    """Ancestors of ``path`` from the root down, excluding ``path``; root is ``""``."""
    if path == "":
        return []
    parts = path.split("/")
    return [""] + ["/".join(parts[:i]) for i in range(1, len(parts))]


@dataclass(slots=True)
class ItemRecord:
    """One file or folder; ``path`` is repo-relative without leading slash (root: ``""``).

    Timestamps are epoch milliseconds.
    """

    repo: str
    path: str
    name: str
    type: str
    size: int
    created: int
    modified: int
    updated: int
    created_by: str
    modified_by: str
    sha1: str | None = None
    md5: str | None = None
    sha256: str | None = None
    original_sha1: str | None = None
    original_md5: str | None = None
    mime_type: str | None = None
    properties: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_folder(self) -> bool:
        return self.type == "folder"

    @classmethod
    def folder(cls, repo: str, path: str, user: str, ts: int) -> ItemRecord:
        """A new folder created by ``user`` at ``ts``."""
        return cls(repo, path, name_of(path), "folder", 0, ts, ts, ts, user, user)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An access token minted through the Access API (only its SHA-256 digest is kept).

    ``expires`` is epoch milliseconds, 0 = never.
    """

    token_id: str
    digest: str = field(repr=False)
    username: str
    scope: str
    created: int
    expires: int = 0
    description: str = ""
    #: Digest of the token's reference token (a short stand-in for it), if one was asked for.
    reference_digest: str | None = field(default=None, repr=False)

    def expired(self, now: int) -> bool:
        return self.expires != 0 and now >= self.expires


@dataclass(frozen=True, slots=True)
class RepoRecord:
    """A repository; ``config`` is the rest of the configuration it was created with (see
    :mod:`fake_artifactory.core.repoconfig`)."""

    key: str
    rclass: str = "local"
    package_type: str = "generic"
    description: str = ""
    config: Mapping[str, Any] = field(default_factory=dict, hash=False)

    @property
    def members(self) -> list[str]:
        """A virtual repository's members, as configured."""
        found = self.config.get("repositories")
        return [m for m in found if isinstance(m, str)] if isinstance(found, list) else []

    @property
    def default_deployment(self) -> str | None:
        """A virtual repository's default deployment repository, if any."""
        found = self.config.get("defaultDeploymentRepo")
        return found if isinstance(found, str) and found else None
