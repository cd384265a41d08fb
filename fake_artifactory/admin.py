"""The control plane under ``/_fake/`` (never under the context path; no auth).

``GET /_fake/health``, ``POST /_fake/reset[?repo=KEY]``, ``GET /_fake/state``,
``GET /_fake/snapshot`` (export, a tar.gz) and ``POST /_fake/snapshot`` (import: the
request body is a snapshot; it replaces the whole state).
The journal and fault modules register their own ``/_fake/...`` blueprints.
"""

from __future__ import annotations

import tempfile
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from fake_artifactory import snapshot
from fake_artifactory.api_archive import folder_download_state
from fake_artifactory.errors import HttpError
from fake_artifactory.storage import ItemRecord

bp = Blueprint("fake_artifactory_admin", __name__)


def _emulator() -> Any:
    return current_app.extensions["fake_artifactory"]


@bp.get("/_fake/health")
def health() -> Response:
    """Liveness plus a few facts about this instance."""
    emu = _emulator()
    cfg = emu.config
    return jsonify(
        {
            "status": "ok",
            "version": cfg.version,
            "edition": cfg.edition,
            "context_path": cfg.context_path,
            "repos": [r.key for r in emu.store.list_repos()],
            "persistent": not emu.store.ephemeral,
            "faults": emu.faults is not None,
            "journal": emu.journal is not None,
        }
    )


@bp.post("/_fake/reset")
def reset() -> Response:
    """Drop all state (or one repository's content with ``?repo=KEY``)."""
    repo = request.args.get("repo")
    emu = _emulator()
    if repo is not None and not emu.store.has_repo(repo):
        raise HttpError(404, f"Repository {repo} not found")
    emu.store.reset(repo)
    if repo is None:
        if emu.journal is not None:
            emu.journal.clear()
        if emu.faults is not None:
            emu.faults.clear()
        folder_download_state().restore()  # runtime settings back to the start-up ones
    return jsonify({"status": "reset", "repo": repo})


def _item_dict(item: ItemRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": item.type, "created_by": item.created_by}
    if not item.is_folder:
        entry.update(size=item.size, sha256=item.sha256, sha1=item.sha1, md5=item.md5)
    if item.properties:
        entry["properties"] = item.properties
    return entry


def state_dump(store: Any) -> dict[str, Any]:
    """``{"repos": {key: {"items": {path: {...}}}}}``; the root folder is omitted."""
    repos: dict[str, Any] = {r.key: {"rclass": r.rclass, "items": {}} for r in store.list_repos()}
    for item in store.iter_items():
        if item.path and item.repo in repos:
            repos[item.repo]["items"][item.path] = _item_dict(item)
    return {"repos": repos}


@bp.get("/_fake/state")
def state() -> Response:
    """JSON dump of every repository's tree (paths, types, sizes, sha256, properties)."""
    return jsonify(state_dump(_emulator().store))


@bp.get("/_fake/snapshot")
def export_snapshot() -> Response:
    """The whole state as a tar.gz (see :mod:`fake_artifactory.snapshot`)."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
    snapshot.export_snapshot(_emulator().store, spool)
    size = spool.tell()
    spool.seek(0)
    resp = Response(_file_chunks(spool), content_type="application/gzip", direct_passthrough=True)
    resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = 'attachment; filename="fake-artifactory-snapshot.tar.gz"'
    return resp


def _file_chunks(fh: Any) -> Any:
    with fh:
        while data := fh.read(1024 * 1024):
            yield data


@bp.post("/_fake/snapshot")
def import_snapshot() -> Response:
    """Replace the whole state with the snapshot in the request body; 400 if invalid."""
    with tempfile.TemporaryFile() as spool:
        while data := request.stream.read(1024 * 1024):
            spool.write(data)
        spool.seek(0)
        try:
            count = snapshot.import_snapshot(_emulator().store, spool)
        except snapshot.SnapshotError as exc:
            raise HttpError(400, f"Invalid snapshot: {exc}") from None
    return jsonify({"status": "imported", "items": count})
