"""What a read of a repository shows its caller, local or virtual, and where a deploy goes.

:class:`RepoView` answers the read views (file download, storage info, listings, folder
archives).  For a local repository it is the store's answer without what the caller may
not read.  For a virtual repository (:mod:`fake_artifactory.core.repoconfig`) it looks in
the members in resolution order: an item comes from the first member that holds it and
that the caller may read, a folder's children are merged over the members (the first
member holding a name wins), and every item it returns carries the virtual key as its
``repo``, as Artifactory reports items found through a virtual repository.

Writes never go through a view: :func:`deploy_target` sends a deploy to a virtual
repository's default deployment repository; anything else addressed to a virtual
repository finds nothing there to change.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterator

from fake_artifactory.core.auth import Principal, refusal
from fake_artifactory.core.errors import HttpError, NoSuchRepo
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.repoconfig import resolution_order
from fake_artifactory.core.uri import RepoRequest
from fake_artifactory.store import Store
from fake_artifactory.web.emulator import current_emulator


def deploy_target(req: RepoRequest) -> RepoRequest:
    """The request as the local repository it deploys to (itself unless virtual).

    A virtual repository without a default deployment repository refuses with the real
    405 (``Allow: GET``).
    """
    repo = current_emulator().store.get_repo(req.repo)
    if repo is None or repo.rclass != "virtual":
        return req
    target = repo.default_deployment
    if target is None:
        raise HttpError(
            405,
            "No local repository was configured as local deployment repository for the "
            f"({repo.key}) virtual repository.",
            {"Allow": "GET"},
        )
    return dataclasses.replace(req, repo=target)


def is_virtual(key: str) -> bool:
    repo = current_emulator().store.get_repo(key)
    return repo is not None and repo.rclass == "virtual"


class RepoView:
    """Repository ``key`` as ``who`` may read it (NoSuchRepo from the methods when
    ``key`` is unknown)."""

    def __init__(self, key: str, who: Principal, store: Store | None = None) -> None:
        self.key = key
        self.who = who
        self.store = store if store is not None else current_emulator().store
        repo = self.store.get_repo(key)
        self.virtual = repo is not None and repo.rclass == "virtual"
        self.members = resolution_order(key, self.store.repos.all()) if self.virtual else [key]

    def _as_own(self, item: ItemRecord) -> ItemRecord:
        return dataclasses.replace(item, repo=self.key) if self.virtual else item

    def _readable(self, member: str, path: str) -> bool:
        return self.who.can("read", member, path)

    def require_readable(self, path: str) -> None:
        """403 (401 for anonymous) unless the caller may read ``path`` somewhere."""
        if not self.may_read(path):
            raise refusal(
                self.who,
                f"Request for '{self.key}:{path}' is forbidden for user: '{self.who.name}'.",
            )

    def may_read(self, path: str) -> bool:
        """True when the caller may read ``path`` in at least one member (or there is no
        member: then there is nothing to find)."""
        return not self.members or any(self._readable(m, path) for m in self.members)

    def get(self, path: str) -> ItemRecord | None:
        """The item a read of ``path`` finds (None when there is none to read)."""
        if not self.virtual:
            if self.store.get_repo(self.key) is None:
                raise NoSuchRepo(self.key)
            return self.store.get_item(self.key, path)
        for member in self.members:
            if self._readable(member, path):
                item = self.store.get_item(member, path)
                if item is not None:
                    return self._as_own(item)
        return None

    def holder(self, path: str) -> str | None:
        """The member a read of ``path`` is served from."""
        for member in self.members:
            if self._readable(member, path) and self.store.get_item(member, path) is not None:
                return member
        return None

    def children(self, path: str) -> list[ItemRecord]:
        """The folder's children the caller may read, sorted by name."""
        merged: dict[str, ItemRecord] = {}
        for member in self.members:
            folder = self.store.get_item(member, path)
            if folder is None or not folder.is_folder or not self._readable(member, path):
                continue
            for child in self.store.list_children(member, path):
                if child.name not in merged and self._readable(member, child.path):
                    merged[child.name] = self._as_own(child)
        return [merged[name] for name in sorted(merged)]

    def descendants(self, path: str, depth: int | None = None) -> Iterator[ItemRecord]:
        """The folder's descendants the caller may read, sorted by path."""
        streams = []
        for member in self.members:
            folder = self.store.get_item(member, path)
            if folder is not None and folder.is_folder:
                streams.append(self._readable_below(member, path, depth))
        seen: set[str] = set()
        for item in heapq.merge(*streams, key=lambda i: i.path):
            if item.path not in seen:
                seen.add(item.path)
                yield self._as_own(item)

    def _readable_below(self, member: str, path: str, depth: int | None) -> Iterator[ItemRecord]:
        for item in self.store.iter_descendants(member, path, depth):
            if self._readable(member, item.path):
                yield item
