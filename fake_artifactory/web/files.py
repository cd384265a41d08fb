"""Repository paths (``/{repo}/{path}``): deploy, retrieve, delete, folders and checksum
side files.

What goes on the wire is decided by helpers shared with the plain-request fast path
(:mod:`fake_artifactory.web.files_fast`): :mod:`fake_artifactory.web.uploads`,
:func:`stream_blob` and :mod:`fake_artifactory.core.download`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response, request

from fake_artifactory.core import download, serializers, uri
from fake_artifactory.core.auth import require, require_overwrite
from fake_artifactory.core.checksums import (
    CHECKSUM_SUFFIXES,
    policy_checksum,
    sent_checksums,
    side_file_suffix,
)
from fake_artifactory.core.errors import HttpError, NoSuchItem, NoSuchRepo
from fake_artifactory.core.properties import matrix_properties
from fake_artifactory.core.records import ItemRecord, now_ms
from fake_artifactory.core.uri import RepoRequest, parse_repo_request
from fake_artifactory.store import Store
from fake_artifactory.store.blobs import CHUNK_SIZE
from fake_artifactory.web import archives
from fake_artifactory.web.context import base_url, not_implemented, principal
from fake_artifactory.web.emulator import current_emulator
from fake_artifactory.web.reads import RepoView, deploy_target, is_virtual
from fake_artifactory.web.uploads import commit_upload, created, receive_body


def repo_target(rest: str) -> RepoRequest:
    """The repository path a request names; 400 when invalid, 404 for an unknown repo."""
    req = parse_repo_request(rest)
    if not current_emulator().store.has_repo(req.repo):
        if request.method in ("GET", "HEAD"):
            raise HttpError(404, "File not found.")
        raise HttpError(404, f"Could not find a local repository named {req.repo} to deploy to.")
    return req


def unsupported(rest: str) -> Response:
    """Any other method on a repository path: 501 (after the path and repo checks)."""
    repo_target(rest)
    raise not_implemented(f"on repository path {rest}")


# -- deploy ------------------------------------------------------------------------------


def _created(item: ItemRecord) -> Response:
    data, headers = created(item, base_url(), request.headers.get("User-Agent", ""))
    return Response(data, status=201, headers=headers)


def deploy(rest: str) -> Response:
    """``PUT /{repo}/{path}``: deploy, checksum deploy, checksum side-file or create folder
    (through a virtual repository: into its default deployment repository)."""
    req = deploy_target(repo_target(rest))
    who = principal()
    store = current_emulator().store
    target = f"{req.repo}:{req.path}"
    require(
        who,
        "deploy",
        f"The user: '{who.name}' is not permitted to deploy '{req.path}' into '{target}'.",
        req.repo,
        req.path,
    )
    if req.folder or req.path == "":
        return create_folder(req)
    if archives.wants_explode():
        return archives.deploy_archive(req)
    suffix = side_file_suffix(req.path)
    if suffix:
        return deploy_checksum_file(req, suffix)
    existing = store.get_item(req.repo, req.path)
    if existing is not None and not existing.is_folder:
        require_overwrite(who, req.repo, req.path)
    props = matrix_properties(req.matrix, may_annotate=who.can("annotate", req.repo, req.path))
    sent = sent_checksums(request.headers.get)
    if request.headers.get("X-Checksum-Deploy", "").lower() == "true":
        item = store.deploy_by_checksum(
            req.repo,
            req.path,
            sha256=sent.get("sha256"),
            sha1=sent.get("sha1"),
            user=who.name,
            properties=props,
        )
        return _created(item)
    staged = receive_body(store, request.stream, request.content_length, request.environ)
    return _created(commit_upload(store, req, staged, sent, user=who.name, properties=props))


def deploy_checksum_file(req: RepoRequest, suffix: str) -> Response:
    """``PUT x.sha1`` sets/validates the checksum of sibling ``x`` instead of storing a file."""
    store = current_emulator().store
    alg = CHECKSUM_SUFFIXES[suffix]
    sibling = req.path[: -len(suffix)]
    value = request.stream.read(1024).decode("utf-8", "replace").strip().split()
    received = value[0].lower() if value else ""
    item = store.get_item(req.repo, sibling)
    if item is None:
        raise HttpError(404, f"Target file to set checksum on doesn't exist: {req.repo}:{sibling}")
    if item.is_folder:
        raise HttpError(
            409, f"Checksum only supported for files (but found folder): {req.repo}:{sibling}"
        )
    actual = getattr(item, alg)
    if received != actual:
        raise HttpError(
            409, f"Checksum error for '{sibling}': received '{received}' but actual is '{actual}'"
        )
    store.set_original_checksum(req.repo, sibling, alg, received)
    resp = Response(status=201)
    resp.headers["Location"] = uri.header_url(uri.download_url(base_url(), req.repo, req.path))
    return resp


def create_folder(req: RepoRequest) -> Response:
    """``PUT /{repo}/{path}/``: create folder and ancestors, idempotent, 201."""
    who = principal()
    props = matrix_properties(req.matrix, may_annotate=who.can("annotate", req.repo, req.path))
    item = current_emulator().store.create_folder(
        req.repo, req.path, user=who.name, properties=props
    )
    return _created(item)


# -- retrieve ------------------------------------------------------------------------------


def retrieve(rest: str) -> Response:
    """``GET|HEAD /{repo}/{path}``: file bytes with ranges, folder redirect or index page."""
    req = repo_target(rest)
    who = principal()
    view = RepoView(req.repo, who)
    view.require_readable(req.path)
    item = view.get(req.path)
    if item is None:
        suffix = side_file_suffix(req.path)
        if suffix:
            return checksum_file(req, suffix, view)
        raise HttpError(404, "File not found.")
    if item.is_folder:
        if not req.folder:
            resp = Response(status=302)
            resp.headers["Location"] = (
                uri.download_url(base_url(), req.repo, uri.quote_path(req.path)) + "/"
            )
            return resp
        page = serializers.index_html(req.repo, req.path, view.children(req.path))
        return Response(page, content_type="text/html;charset=utf-8")
    return _file_response(item)


def checksum_file(req: RepoRequest, suffix: str, view: RepoView) -> Response:
    """``GET|HEAD x.sha1`` (``.md5``, ``.sha256``) without such a file: the checksum of
    ``x`` under the repository's checksum policy, as text; 404 when it has none."""
    sibling = req.path[: -len(suffix)]
    item = view.get(sibling)
    if item is None:
        raise HttpError(404, "File not found.")
    value = None if item.is_folder else policy_checksum(item, CHECKSUM_SUFFIXES[suffix])
    if not value:
        raise HttpError(404, f"Checksum not found for {sibling}")
    body = value.encode("ascii")
    resp = Response(b"" if request.method == "HEAD" else body, content_type=download.CHECKSUM_MIME)
    resp.headers["Content-Length"] = str(len(body))
    resp.headers["Last-Modified"] = serializers.http_date(now_ms())
    return resp


def stream_blob(store: Store, item: ItemRecord, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
    """The bytes of ``ranges`` of a file item's blob, read lazily (opened on first use)."""
    with store.open_blob(item.sha256 or "", item.size) as fh:
        for start, stop in ranges:
            fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                data = fh.read(min(CHUNK_SIZE, remaining))
                if not data:
                    return
                remaining -= len(data)
                yield data


def _file_response(item: ItemRecord) -> Response:
    headers = download.file_headers(item)
    mime = download.mime_of(item)
    if download.not_modified(
        item, request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")
    ):
        return Response(status=304, headers=headers)
    try:
        ranges = download.requested_ranges(
            item, request.headers.get("Range"), request.headers.get("If-Range")
        )
    except HttpError as exc:
        resp = Response(b"", status=416, headers=headers)
        resp.headers.update(exc.headers)
        return resp
    store = current_emulator().store
    head = request.method == "HEAD"
    if ranges is None:
        body: Any = [] if head else stream_blob(store, item, [(0, item.size)])
        resp = Response(
            body, status=200, headers=headers, content_type=mime, direct_passthrough=True
        )
        resp.headers["Content-Length"] = str(item.size)
        return resp
    if len(ranges) == 1:
        start, stop = ranges[0]
        body = [] if head else stream_blob(store, item, ranges)
        resp = Response(
            body, status=206, headers=headers, content_type=mime, direct_passthrough=True
        )
        resp.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{item.size}"
        resp.headers["Content-Length"] = str(stop - start)
        return resp
    layout = download.multipart(item, ranges)

    def parts() -> Iterator[bytes]:
        for part, span in zip(layout.heads, layout.spans, strict=True):
            yield part
            yield from stream_blob(store, item, [span])
        yield layout.closing

    resp = Response(
        [] if head else parts(),
        status=206,
        headers=headers,
        content_type=layout.content_type,
        direct_passthrough=True,
    )
    resp.headers["Content-Length"] = str(layout.length)
    return resp


# -- delete ----------------------------------------------------------------------------


def delete(rest: str) -> Response:
    """``DELETE /{repo}/{path}``: file or folder (recursive), 204; root needs admin.

    A virtual repository holds nothing of its own, so a delete through one finds nothing
    (Artifactory deletes only in the repository named: see docs/fidelity.md).
    """
    req = repo_target(rest)
    who = principal()
    target = f"{req.repo}:{req.path}"
    if req.path == "":
        require(who, "admin", f"Not enough permissions to delete content of repository {req.repo}.")
    if not is_virtual(req.repo):
        require_overwrite(who, req.repo, req.path)
    try:
        current_emulator().store.delete(req.repo, req.path)
    except (NoSuchItem, NoSuchRepo):
        raise HttpError(404, f"Could not locate artifact '{target}' (Nothing to delete).") from None
    return Response(status=204)
