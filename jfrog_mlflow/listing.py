"""Listing folders on either edition of Artifactory (built on the client; no MLflow).

File List (``?list``) gives a folder's children or its whole tree, with sizes and
checksums, in one request, but only on Artifactory Pro: the OSS edition answers it with a
400 whose message names "Artifactory Pro". The first answer teaches the client the edition
(:meth:`~jfrog_mlflow.client.ArtifactoryClient.learn_edition`), so an OSS server costs that
refused request once per client. On OSS a folder's children come from one AQL search
(sizes included) or, where AQL is refused (anonymous access), from Folder Info plus one
storage-info request per child file; a tree is walked with one Folder Info per folder.

The pure functions at the end shape a listing the way MLflow lists artifacts: paths
checked not to escape the destination (:func:`safe_entries`), direct children only
(:func:`direct_children`), a tree as its files and empty folders (:func:`tree_leaves`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.models import (
    ListEntry,
    build_children_aql,
    error_detail,
    parse_aql_children,
    parse_file_list,
)
from jfrog_mlflow.session import RETRY_STATUSES
from jfrog_mlflow.urls import (
    build_aql_url,
    build_deep_list_url,
    build_list_url,
    join_path,
    validate_listed_path,
)

__all__ = [
    "Leaf",
    "direct_children",
    "list_children",
    "list_tree",
    "probe_edition",
    "safe_entries",
    "tree_leaves",
]

_logger = logging.getLogger(__name__)

_PRO_ONLY_MARKER = "artifactory pro"


class _ProOnly(Exception):
    """Internal signal: the server answered that File List needs Artifactory Pro."""


def probe_edition(client: ArtifactoryClient, repo: str, path: str) -> bool | None:
    """Learn the edition with a File List of ``path`` unless it is already known.

    A missing folder (404) says nothing about the edition, so then the repository root
    is listed (two requests at most). ``None`` when it is still unknown.
    """
    for where in dict.fromkeys((path, "")):
        if client.is_pro is not None:
            break
        try:
            _file_list(
                client,
                build_list_url(client.base_url, repo, where),
                f"listing of '{join_path(repo, where)}'",
            )
        except _ProOnly:
            pass
    return client.is_pro


def _file_list(client: ArtifactoryClient, url: str, what: str) -> list[ListEntry] | None:
    """GET a File List URL; ``None`` when not a folder; raises _ProOnly on OSS."""

    def once() -> list[ListEntry] | None:
        resp = client.request("GET", url, what=what)
        if resp.status_code == 404:
            resp.close()
            return None
        if resp.status_code == 400:
            resp.close()
            if _PRO_ONLY_MARKER in error_detail(resp.content).lower():
                client.learn_edition(False)
                raise _ProOnly()
            return None  # "expected a folder": the path is a file
        client.check(resp, what=what)
        entries = client.read_json(resp, what, parse_file_list)
        client.learn_edition(True)
        return entries

    return client.with_retries(what, once)


def _pro_file_list(
    client: ArtifactoryClient, url: str, what: str
) -> tuple[bool, list[ListEntry] | None]:
    """``(True, File List result)``, or ``(False, None)`` when the server is OSS (known
    before, or learnt from this request)."""
    if client.is_pro is False:
        return False, None
    try:
        return True, _file_list(client, url, what)
    except _ProOnly:
        return False, None


def list_children(
    client: ArtifactoryClient, repo: str, path: str, *, sizes: bool = True
) -> list[ListEntry] | None:
    """Direct children of the folder ``path`` (paths relative to it).

    Returns ``None`` when ``path`` is a file or does not exist. On Pro this is one File
    List request. On OSS it is one AQL search when ``sizes`` is true (then a file or an
    empty folder also gives ``[]``); when AQL is refused (e.g. anonymous access), one
    Folder Info request plus one storage-info request per child file, in parallel.
    """
    what = f"listing of '{join_path(repo, path)}'"
    answered, entries = _pro_file_list(client, build_list_url(client.base_url, repo, path), what)
    if answered:
        return entries
    if sizes and client.aql_supported:
        found = _aql_children(client, repo, path)
        if found is not None:
            return found
    info = client.stat(repo, path)
    if info is None or not info.is_folder:
        return None
    children = list(info.children)
    if not sizes:
        return children
    files = [c for c in children if not c.is_folder]
    if not files:
        return children

    def fill(entry: ListEntry) -> ListEntry:
        child = client.stat(repo, join_path(path, entry.path))
        if child is None or child.is_folder:
            return entry
        return ListEntry(entry.path, False, child.size, child.checksums)

    with ThreadPoolExecutor(max_workers=min(len(files), client.config.max_workers)) as pool:
        filled = {e.path: e for e in pool.map(fill, files)}
    return [filled.get(c.path, c) for c in children]


def _aql_children(client: ArtifactoryClient, repo: str, path: str) -> list[ListEntry] | None:
    """Children with sizes via AQL; ``None`` when it fails or ``repo`` is virtual. A
    refusal (4xx) turns AQL off for this client; 429 and 5xx only make this one listing
    fall back.

    AQL is a read-only search sent as POST, so it is safe to repeat when its body breaks.
    """
    what = f"AQL listing of '{join_path(repo, path)}'"
    query = build_children_aql(repo, path).encode("utf-8")

    def once() -> list[ListEntry] | None:
        resp = client.request(
            "POST",
            build_aql_url(client.base_url),
            what=what,
            headers={"Content-Type": "text/plain"},
            data=query,
        )
        if resp.status_code != 200:
            resp.close()
            if resp.status_code in RETRY_STATUSES:
                # Overload or a proxy hiccup (urllib3 does not retry a POST): fall back
                # for this listing only.
                _logger.debug(
                    "AQL failed (HTTP %s); this listing goes folder by folder", resp.status_code
                )
                return None
            _logger.debug("AQL refused (HTTP %s); listing folder by folder", resp.status_code)
            client.disable_aql()
            return None
        try:
            return client.read_json(resp, what, lambda data: parse_aql_children(data, repo))
        finally:
            resp.close()

    return client.with_retries(what, once)


def list_tree(client: ArtifactoryClient, repo: str, path: str) -> list[ListEntry] | None:
    """Every file and folder below ``path`` (paths relative to it), or ``None``.

    One deep File List request on Pro; on OSS (learnt from the Pro-only 400, once per
    client) one Folder Info request per folder. Sizes are unknown on OSS.
    """
    what = f"deep listing of '{join_path(repo, path)}'"
    url = build_deep_list_url(client.base_url, repo, path)
    answered, entries = _pro_file_list(client, url, what)
    if answered:
        return entries
    info = client.stat(repo, path)
    if info is None or not info.is_folder:
        return None
    result: list[ListEntry] = []
    pending = [("", info.children)]
    while pending:
        prefix, children = pending.pop()
        for child in children:
            rel = join_path(prefix, child.path)
            result.append(ListEntry(rel, child.is_folder))
            if child.is_folder:
                sub = client.stat(repo, join_path(path, rel))
                if sub is not None and sub.is_folder:
                    pending.append((rel, sub.children))
    return result


# ---------------------------------------------------------------------- shaping (pure)


class Leaf(NamedTuple):
    """A file or an empty folder of a tree, as MLflow lists it (root-relative path)."""

    path: str
    is_dir: bool
    size: int | None


def safe_entries(entries: Iterable[ListEntry]) -> list[ListEntry]:
    """The entries of a server listing, each checked not to escape the destination.

    Raises:
        InvalidArtifactPath: for an absolute path, a ``..`` segment or a backslash.
    """
    return [e for e in entries if validate_listed_path(e.path)]


def direct_children(rel: str, entries: Iterable[ListEntry]) -> list[Leaf]:
    """The direct children of folder ``rel`` in its listing ``entries``, sorted by path.

    Raises:
        InvalidArtifactPath: for an entry whose path could escape the destination.
    """
    children = []
    for entry in entries:
        child = join_path(rel, validate_listed_path(entry.path))
        if child == rel or "/" in entry.path.strip("/"):
            continue
        children.append(Leaf(child, entry.is_folder, None if entry.is_folder else entry.size))
    return sorted(children, key=lambda leaf: leaf.path)


def tree_leaves(rel: str, entries: Sequence[ListEntry]) -> list[Leaf]:
    """The files and empty folders of the deep listing ``entries`` of ``rel``, sorted.

    A folder with something below it is implied by its contents (MLflow lists leaves).
    """
    parents: set[str] = set()
    for entry in entries:
        parts = entry.path.split("/")
        parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
    leaves = [
        Leaf(join_path(rel, e.path), e.is_folder, None if e.is_folder else e.size)
        for e in entries
        if not (e.is_folder and e.path in parents)
    ]
    return sorted(leaves, key=lambda leaf: leaf.path)
