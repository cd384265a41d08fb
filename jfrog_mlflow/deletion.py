"""Deleting in any kind of repository (built on the client; no MLflow).

A virtual repository stores nothing of its own: Artifactory deletes only in the repository
a ``DELETE`` names, so a delete through a virtual repository finds nothing (404) while
what is read through it lives in its members. :func:`delete_tree` deletes in the named
repository first, and only when that finds nothing asks whether the repository is virtual;
if it is, the path is deleted in every member (virtual members resolved in turn). The
members come from ``GET /api/repositories/<key>``, whose public part (class and members)
users who are not admins get too; each repository is asked about once per client. Any
other answer (an error, another class) means there is nowhere else to delete.
"""

from __future__ import annotations

import threading
import weakref

from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.models import parse_virtual_members
from jfrog_mlflow.properties import owner_folder
from jfrog_mlflow.urls import build_repo_config_url

__all__ = ["delete_tree", "virtual_members", "whole_folder"]

_ARTIFACTS = "artifacts"

_LEARNT: weakref.WeakKeyDictionary[ArtifactoryClient, dict[str, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def delete_tree(client: ArtifactoryClient, repo: str, path: str) -> bool:
    """Delete ``path`` (recursively) in ``repo``, or in every member of the virtual
    repository ``repo``; ``False`` when nothing was there."""
    if client.delete(repo, path):
        return True
    deleted = False
    for member in virtual_members(client, repo):
        deleted = client.delete(member, path) or deleted
    return deleted


def whole_folder(client: ArtifactoryClient, repo: str, target: str) -> str:
    """What deleting ``target`` should delete: its run or logged-model folder when
    ``target`` is that folder's ``artifacts`` folder and the only thing in it (so
    ``mlflow gc`` leaves no empty ``<run_id>/``); else ``target`` itself."""
    owner = owner_folder(target)
    if owner is None:
        return target
    info = client.stat(repo, owner)
    if info is None or not info.is_folder:
        return target
    if all(child.path == _ARTIFACTS for child in info.children):
        return owner
    return target


def virtual_members(client: ArtifactoryClient, repo: str) -> list[str]:
    """The repositories that hold what is read through the virtual repository ``repo``
    (members of virtual members included), in order; ``[]`` for any other repository."""
    found: list[str] = []
    seen = {repo}
    pending = list(_members(client, repo))
    while pending:
        member = pending.pop(0)
        if member in seen:
            continue
        seen.add(member)
        nested = _members(client, member)
        if nested:
            pending[:0] = nested
        else:
            found.append(member)
    return found


def _members(client: ArtifactoryClient, repo: str) -> tuple[str, ...]:
    with _LOCK:
        known = _LEARNT.setdefault(client, {}).get(repo)
    if known is not None:
        return known
    what = f"configuration of repository '{repo}'"
    url = build_repo_config_url(client.base_url, repo)

    def once() -> tuple[str, ...]:
        resp = client.request("GET", url, what=what)
        if resp.status_code != 200:
            resp.close()
            return ()
        client.learn_repository(repo)  # it exists: nothing for diagnose to ask
        try:
            return parse_virtual_members(resp.json())
        except ValueError:
            return ()
        finally:
            resp.close()

    members = client.with_retries(what, once)
    with _LOCK:
        _LEARNT.setdefault(client, {})[repo] = members
    return members
