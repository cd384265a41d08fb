"""The control plane: every ``/_fake/...`` endpoint, on one blueprint (never under the
context path).

With a control token configured, :func:`_control_guard` lets through only callers with
``Authorization: Bearer <control token>`` or admin credentials, except ``GET
/_fake/health``; anyone else gets 401 before any view runs. Without a token (the
loopback default) the control plane is open.

* ``GET /_fake/health``; ``POST /_fake/reset[?repo=KEY]``; ``GET /_fake/state``
* ``GET /_fake/snapshot`` (export, a tar.gz); ``POST /_fake/snapshot`` (import: the
  request body replaces the whole state)
* ``GET|PUT|PATCH|DELETE /_fake/settings/folder-download``
* ``GET|POST|DELETE /_fake/faults``, ``DELETE /_fake/faults/<id>`` (see docs/faults.md)
* ``GET|DELETE /_fake/requests`` (the request journal)

With ``--workers`` what cannot be shared between processes is refused with 409
(:func:`refused_with_workers`).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from typing import IO, Any

from flask import Blueprint, Response, jsonify, request

from fake_artifactory.core.auth import CONTROL_CHALLENGE, CONTROL_DENIED, may_control
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.faults import FaultError
from fake_artifactory.core.journal import Journal, filter_entries
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.store import Store
from fake_artifactory.store.snapshot import SnapshotError, export_snapshot, import_snapshot
from fake_artifactory.web.emulator import current_emulator

bp = Blueprint("fake_artifactory_control", __name__)


def refused_with_workers(method: str, path: str) -> str | None:
    """What a control-plane request needs that several processes cannot share, or None.

    The request journal, fault rules and run-time settings live in each process, and a
    snapshot import rewrites the data dir under the other processes' feet.
    """
    if path.startswith("/_fake/requests"):
        return "the request journal"
    if path.startswith("/_fake/faults") and method != "GET":
        return "fault injection"
    if path.startswith("/_fake/settings/") and method != "GET":
        return "changing settings at run time"
    if path.startswith("/_fake/snapshot") and method == "POST":
        return "importing a snapshot"
    return None


@bp.before_request
def _control_guard() -> None:
    """THE check of the control token: it runs before every view of this blueprint, and
    before :func:`_single_process_controls`, so a refused caller learns nothing else."""
    emu = current_emulator()
    if emu.config.control_token is None:
        return
    if request.endpoint == f"{bp.name}.health" and request.method in ("GET", "HEAD"):
        return
    if not may_control(request.headers, emu.config, emu.directory):
        raise HttpError(401, CONTROL_DENIED, CONTROL_CHALLENGE)


@bp.before_request
def _single_process_controls() -> None:
    workers = current_emulator().config.workers
    if workers > 1:
        refused = refused_with_workers(request.method, request.path)
        if refused:
            raise HttpError(
                409,
                f"{refused} needs a single emulator process; "
                f"it is not available with --workers {workers}",
            )


def _json_error(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"errors": [{"status": status, "message": message}]}), status


# -- state ---------------------------------------------------------------------------------


@bp.get("/_fake/health")
def health() -> Response:
    """Liveness plus a few facts about this instance; with a control token, a caller
    without it learns only that the emulator is alive (the facts name its repositories)."""
    emu = current_emulator()
    cfg = emu.config
    if cfg.control_token is not None and not may_control(request.headers, cfg, emu.directory):
        return jsonify({"status": "ok"})
    return jsonify(
        {
            "status": "ok",
            "version": cfg.version,
            "edition": cfg.edition,
            "context_path": cfg.context_path,
            "repos": [r.key for r in emu.store.list_repos()],
            "persistent": not emu.store.ephemeral,
            "faults": True,
            "journal": emu.journal is not None,
        }
    )


@bp.post("/_fake/reset")
def reset() -> Response:
    """Drop all state (or one repository's content with ``?repo=KEY``)."""
    repo = request.args.get("repo")
    emu = current_emulator()
    if repo is not None and not emu.store.has_repo(repo):
        raise HttpError(404, f"Repository {repo} not found")
    emu.reset(repo)
    return jsonify({"status": "reset", "repo": repo})


def _item_dict(item: ItemRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": item.type, "created_by": item.created_by}
    if not item.is_folder:
        entry.update(size=item.size, sha256=item.sha256, sha1=item.sha1, md5=item.md5)
    if item.properties:
        entry["properties"] = item.properties
    return entry


def state_dump(store: Store) -> dict[str, Any]:
    """``{"repos": {key: {"items": {path: {...}}}}}``; the root folder is omitted."""
    repos: dict[str, Any] = {r.key: {"rclass": r.rclass, "items": {}} for r in store.list_repos()}
    for item in store.iter_items():
        if item.path and item.repo in repos:
            repos[item.repo]["items"][item.path] = _item_dict(item)
    return {"repos": repos}


@bp.get("/_fake/state")
def state() -> Response:
    """JSON dump of every repository's tree (paths, types, sizes, sha256, properties)."""
    return jsonify(state_dump(current_emulator().store))


# -- snapshots -----------------------------------------------------------------------------


@bp.get("/_fake/snapshot")
def export() -> Response:
    """The whole state as a tar.gz (see :mod:`fake_artifactory.store.snapshot`)."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the response
    export_snapshot(current_emulator().store, spool)
    size = spool.tell()
    spool.seek(0)
    resp = Response(_file_chunks(spool), content_type="application/gzip", direct_passthrough=True)
    resp.headers["Content-Length"] = str(size)
    resp.headers["Content-Disposition"] = 'attachment; filename="fake-artifactory-snapshot.tar.gz"'
    return resp


def _file_chunks(fh: IO[bytes]) -> Iterator[bytes]:
    with fh:
        while data := fh.read(1024 * 1024):
            yield data


@bp.post("/_fake/snapshot")
def import_() -> Response:
    """Replace the whole state with the snapshot in the request body; 400 if invalid."""
    with tempfile.TemporaryFile() as spool:
        while data := request.stream.read(1024 * 1024):
            spool.write(data)
        spool.seek(0)
        try:
            count = import_snapshot(current_emulator().store, spool)
        except SnapshotError as exc:
            raise HttpError(400, f"Invalid snapshot: {exc}") from None
    return jsonify({"status": "imported", "items": count})


# -- run-time settings ---------------------------------------------------------------------


@bp.get("/_fake/settings/folder-download")
def get_folder_download() -> Response:
    """The current folder download settings."""
    return jsonify(asdict(current_emulator().folder_download.settings))


@bp.route("/_fake/settings/folder-download", methods=["PUT", "PATCH"])
def set_folder_download() -> Response:
    """Change some settings: ``{"enabled": true, "max_files": 10, ...}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise HttpError(400, "expected a JSON object")
    try:
        settings = current_emulator().folder_download.update(body)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from None
    return jsonify(asdict(settings))


@bp.delete("/_fake/settings/folder-download")
def restore_folder_download() -> Response:
    """Back to the settings the emulator was started with."""
    return jsonify(asdict(current_emulator().folder_download.restore()))


# -- fault rules ---------------------------------------------------------------------------


def _seed_arg() -> int | None:
    """The ``?seed=N`` of a fault request (``None`` when absent); 400 when not an integer."""
    raw = request.args.get("seed")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise HttpError(400, f"seed must be an integer, got {raw!r}") from None


@bp.get("/_fake/faults")
def list_faults() -> Response:
    """List rules with their ``matched``/``fired`` counters, and the RNG's seed."""
    faults = current_emulator().faults
    return jsonify({"faults": faults.to_json(), "seed": faults.seed})


@bp.post("/_fake/faults")
def add_faults() -> tuple[Response, int]:
    """Add one rule (JSON object) or several (JSON list); answer 201 with their ids.

    ``?seed=N`` first re-seeds the RNG behind ``probability``, so a test picks its fault
    sequence together with its rules.
    """
    seed = _seed_arg()
    data = request.get_json(force=True, silent=True)
    if data is None:
        return _json_error(400, "body must be a JSON fault rule or a list of rules")
    faults = current_emulator().faults
    if seed is not None:
        faults.reseed(seed)
    try:
        ids = faults.load(data)
    except FaultError as exc:
        return _json_error(400, str(exc))
    return jsonify({"ids": ids}), 201


@bp.delete("/_fake/faults")
def clear_faults() -> Response:
    """Remove every rule and re-seed the RNG (with ``?seed=N``: from now on with N)."""
    seed = _seed_arg()
    faults = current_emulator().faults
    if seed is not None:
        faults.reseed(seed)
    faults.clear()
    return Response(status=204)


@bp.delete("/_fake/faults/<rule_id>")
def delete_fault(rule_id: str) -> Response | tuple[Response, int]:
    """Remove one rule; 404 when unknown."""
    if not current_emulator().faults.remove(rule_id):
        return _json_error(404, f"no fault rule {rule_id!r}")
    return Response(status=204)


# -- the request journal -------------------------------------------------------------------


def _journal() -> Journal:
    journal = current_emulator().journal
    if journal is None:  # only with --workers, refused before this
        raise HttpError(409, "the request journal is not available")
    return journal


@bp.get("/_fake/requests")
def list_requests() -> Response:
    """List journaled requests, oldest first.

    Filters: ``?method=PUT``, ``?contains=<text in the URI>``, ``?since=<seq>`` (only
    entries with a larger ``seq``).
    """
    entries = filter_entries(
        _journal().entries(),
        method=request.args.get("method"),
        contains=request.args.get("contains"),
        since=request.args.get("since", type=int),
    )
    return jsonify({"requests": entries})


@bp.delete("/_fake/requests")
def clear_requests() -> Response:
    """Empty the journal."""
    _journal().clear()
    return Response(status=204)
