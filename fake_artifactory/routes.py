"""Routing on the raw request URI and the repository (file) operations.

One catch-all Flask rule receives everything outside ``/_fake/``; :func:`dispatch`
splits the raw path after the context path and calls a named view.  ``/api/...``
always means the REST API (a repository named ``api`` is still reachable through
``/api/storage/api/...``).  Unknown methods/endpoints answer 501, never a silent 200.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

from flask import Flask, Response, current_app, g, request

from fake_artifactory import api, api_archive, serializers
from fake_artifactory.auth import ANONYMOUS, Principal, require
from fake_artifactory.errors import ChecksumMismatch, HttpError, NoSuchItem, NoSuchRepo
from fake_artifactory.paths import (
    InvalidRawPath,
    RepoRequest,
    parse_repo_request,
    validate_property_key,
)
from fake_artifactory.storage import (
    CHUNK_SIZE,
    ItemRecord,
    StagedBlob,
    Store,
    verify_client_checksums,
)

if TYPE_CHECKING:
    from fake_artifactory.app import Emulator

log = logging.getLogger(__name__)

ALL_METHODS = ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]
MULTIPART_BOUNDARY = "BCD64322345343217845286A"
CHECKSUM_SUFFIXES = {".sha1": "sha1", ".md5": "md5", ".sha256": "sha256"}
_LENGTH_TO_ALG = {32: "md5", 40: "sha1", 64: "sha256"}


def register(app: Flask) -> None:
    """Install the catch-all rule."""
    app.add_url_rule("/", "dispatch_root", dispatch, methods=ALL_METHODS)
    app.add_url_rule("/<path:_any>", "dispatch", dispatch, methods=ALL_METHODS)
    app.register_blueprint(api_archive.bp)  # /_fake/settings/folder-download


def emulator() -> Emulator:
    """The Emulator of the current app."""
    return cast("Emulator", current_app.extensions["fake_artifactory"])


def principal() -> Principal:
    found: Principal | None = g.get("principal")
    return found if found is not None else Principal(ANONYMOUS, frozenset())


def base_url() -> str:
    """Absolute base URL (with context path) for URLs in responses."""
    ctx = emulator().config.context_path.rstrip("/")
    override = request.headers.get("X-JFrog-Override-Base-Url")
    if override:
        override = override.rstrip("/")
        return str(override if override.endswith(ctx) else override + ctx)
    legacy = request.headers.get("X-Artifactory-Override-Base-Url")
    if legacy:
        return legacy.rstrip("/")
    return request.host_url.rstrip("/") + ctx


def header_url(url: str) -> str:
    """A URL safe for a header: non-ASCII and spaces percent-encoded, the rest kept."""
    return quote(url, safe=":/;=&+@,$!*'()~%?#[]")


def not_implemented(what: str) -> HttpError:
    return HttpError(
        501, f"fake_artifactory does not implement {request.method} {what}", plain=False
    )


def parse_repo(raw: str) -> RepoRequest:
    try:
        return parse_repo_request(raw)
    except InvalidRawPath as exc:
        raise HttpError(400, exc.message) from None


def dispatch(**_: Any) -> Response:
    """Route a request by its raw path."""
    rest: str | None = g.get("fake_rest")
    if rest is None:
        raise HttpError(404, "Not Found")
    if rest in ("", "/"):
        if request.method in ("GET", "HEAD"):
            return Response("Artifactory (fake_artifactory)\n", content_type="text/plain")
        raise not_implemented(request.path)
    if rest == "/api" or rest.startswith("/api/"):
        return api.dispatch_api(rest[len("/api") :])
    req = parse_repo(rest)
    if not emulator().store.has_repo(req.repo):
        if request.method in ("GET", "HEAD"):
            raise HttpError(404, "File not found.")
        raise HttpError(404, f"Could not find a local repository named {req.repo} to deploy to.")
    handler = _REPO_HANDLERS.get(request.method)
    if handler is None:
        raise not_implemented(f"on repository path {rest}")
    return handler(req)


# -- deploy ------------------------------------------------------------------------------


def sent_checksums(header: Callable[[str], str | None]) -> dict[str, str]:
    """The client's ``X-Checksum-Sha1/-Md5/-Sha256`` headers, and ``X-Checksum`` (any
    algorithm, told by its length) where the specific one is absent."""
    sent: dict[str, str] = {}
    for alg in ("sha1", "md5", "sha256"):
        value = header(f"X-Checksum-{alg.capitalize()}")
        if value:
            sent[alg] = value.strip().lower()
    generic = (header("X-Checksum") or "").strip().lower()
    generic_alg = _LENGTH_TO_ALG.get(len(generic))
    if generic_alg and generic_alg not in sent:
        sent[generic_alg] = generic
    return sent


def _properties(req: RepoRequest, who: Principal) -> dict[str, list[str]]:
    for key in req.matrix:
        try:
            validate_property_key(key)
        except InvalidRawPath as exc:
            raise HttpError(400, exc.message) from None
    return dict(req.matrix) if who.can("annotate") else {}


def _created(item: ItemRecord) -> Response:
    include_sha256 = "ArtifactoryBuildClient/" not in request.headers.get("User-Agent", "")
    body = serializers.item_created(item, base_url(), include_sha256=include_sha256)
    resp = Response(serializers.to_json(body), status=201, content_type=serializers.ITEM_CREATED)
    resp.headers["Location"] = header_url(body["uri"])
    return resp


def deploy_artifact(req: RepoRequest) -> Response:
    """``PUT /{repo}/{path}``: deploy, checksum deploy, checksum side-file or create folder."""
    who = principal()
    store = emulator().store
    target = f"{req.repo}:{req.path}"
    require(
        who,
        "deploy",
        f"The user: '{who.name}' is not permitted to deploy '{req.path}' into '{target}'.",
    )
    if req.folder or req.path == "":
        return create_folder(req)
    if api_archive.wants_explode():
        return api_archive.deploy_archive(req)
    suffix = next((s for s in CHECKSUM_SUFFIXES if req.path.endswith(s)), None)
    if suffix and len(req.path) > len(suffix) and not req.path.endswith("/" + suffix):
        return deploy_checksum_file(req, suffix)
    existing = store.get_item(req.repo, req.path)
    if existing is not None and not existing.is_folder:
        require(
            who,
            "delete",
            f"Not enough permissions to delete/overwrite artifact '{target}' "
            f"(user: '{who.name}' needs DELETE permission).",
        )
    props = _properties(req, who)
    if request.headers.get("X-Checksum-Deploy", "").lower() == "true":
        sent = sent_checksums(request.headers.get)
        item = store.deploy_by_checksum(
            req.repo,
            req.path,
            sha256=sent.get("sha256"),
            sha1=sent.get("sha1"),
            user=who.name,
            properties=props,
        )
        return _created(item)
    sent = sent_checksums(request.headers.get)
    staged = _receive_body()
    return _created(commit_upload(store, req, staged, sent, user=who.name, properties=props))


def commit_upload(
    store: Store,
    req: RepoRequest,
    staged: StagedBlob,
    sent: dict[str, str],
    *,
    user: str,
    properties: dict[str, list[str]],
) -> ItemRecord:
    """Check the client's checksum headers against the staged body, then publish it."""
    try:
        verify_client_checksums(req.repo, req.path, sent, staged.checksums())
    except ChecksumMismatch:
        staged.discard()
        raise
    original = {k: v for k, v in sent.items() if k in ("sha1", "md5")}
    return store.commit_file(
        req.repo, req.path, staged, user=user, original=original, properties=properties
    )


def check_body_length(staged: StagedBlob, expected: int | None, environ: Any) -> None:
    """A body shorter than its declared length stores nothing (the connection is closed)."""
    if expected is not None and not environ.get("wsgi.input_terminated"):
        if staged.size != expected:
            staged.discard()
            raise HttpError(
                400,
                f"Request body ended after {staged.size} of {expected} bytes",
                {"Connection": "close"},
            )


def body_chunks(stream: Any) -> Iterator[bytes]:
    """A request body in CHUNK_SIZE pieces; client-side failures become 4xx errors."""
    close = {"Connection": "close"}
    while True:
        try:
            data = stream.read(CHUNK_SIZE)
        except TimeoutError:
            raise HttpError(408, "Timed out while reading the request body", close) from None
        except (ValueError, OSError) as exc:
            raise HttpError(400, f"Malformed request body: {exc}", close) from None
        if not data:
            return
        yield data


def _receive_body() -> StagedBlob:
    """Stream the request body into the store; a broken or short body stores nothing."""
    staged = emulator().store.stage_upload(body_chunks(request.stream))
    check_body_length(staged, request.content_length, request.environ)
    return staged


def deploy_checksum_file(req: RepoRequest, suffix: str) -> Response:
    """``PUT x.sha1`` sets/validates the checksum of sibling ``x`` instead of storing a file."""
    store = emulator().store
    alg = CHECKSUM_SUFFIXES[suffix]
    sibling = req.path[: -len(suffix)]
    value = request.stream.read(1024).decode("utf-8", "replace").strip().split()
    received = value[0].lower() if value else ""
    item = store.get_item(req.repo, sibling)
    if item is None or item.is_folder:
        raise HttpError(404, f"Target file to set checksum on doesn't exist: {req.repo}:{sibling}")
    actual = getattr(item, alg)
    if received != actual:
        raise HttpError(
            409, f"Checksum error for '{sibling}': received '{received}' but actual is '{actual}'"
        )
    store.set_original_checksum(req.repo, sibling, alg, received)
    resp = Response(status=201)
    resp.headers["Location"] = header_url(serializers.download_url(base_url(), req.repo, req.path))
    return resp


def create_folder(req: RepoRequest) -> Response:
    """``PUT /{repo}/{path}/``: create folder and ancestors, idempotent, 201."""
    who = principal()
    item = emulator().store.create_folder(
        req.repo, req.path, user=who.name, properties=_properties(req, who)
    )
    return _created(item)


# -- retrieve ------------------------------------------------------------------------------


def retrieve_artifact(req: RepoRequest) -> Response:
    """``GET|HEAD /{repo}/{path}``: file bytes with ranges, folder redirect or index page."""
    who = principal()
    target = f"{req.repo}:{req.path}"
    require(who, "read", f"Request for '{target}' is forbidden for user: '{who.name}'.")
    store = emulator().store
    item = store.get_item(req.repo, req.path)
    if item is None:
        raise HttpError(404, "File not found.")
    if item.is_folder:
        if not req.folder:
            resp = Response(status=302)
            resp.headers["Location"] = (
                serializers.download_url(base_url(), req.repo, quote(req.path, safe="/")) + "/"
            )
            return resp
        page = serializers.index_html(req.repo, req.path, store.list_children(req.repo, req.path))
        return Response(page, content_type="text/html;charset=utf-8")
    return _file_response(item)


def _file_headers(item: ItemRecord) -> dict[str, str]:
    encoded = quote(item.name)
    plain = item.name if item.name.isascii() and '"' not in item.name else encoded
    headers = {
        "Last-Modified": serializers.http_date(item.modified),
        "ETag": item.sha1 or "",
        "X-Checksum-Sha1": item.sha1 or "",
        "X-Checksum-Md5": item.md5 or "",
        "Accept-Ranges": "bytes",
        "X-Artifactory-Filename": encoded,
        "Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}",
    }
    if item.sha256:
        headers["X-Checksum-Sha256"] = item.sha256
    return headers


def _stream(store: Store, item: ItemRecord, ranges: list[tuple[int, int]]) -> Iterator[bytes]:
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


def parse_byte_ranges(header: str) -> list[tuple[int, int | None]] | None:
    """Parse ``bytes=a-b,c-,-n`` into (start, stop-exclusive) pairs; suffixes have start < 0.

    Unlike werkzeug's parser this accepts overlapping and unordered ranges (Artifactory
    merges them).  Returns None when the header is unparseable or a range is inverted.
    """
    units, _, spec = header.partition("=")
    if units.strip().lower() != "bytes":
        return None
    out: list[tuple[int, int | None]] = []
    for part in spec.split(","):
        first, sep, last = part.strip().partition("-")
        if not sep or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
            return None
        if first == "":
            if last == "":
                return None
            out.append((-int(last), None))
            continue
        start = int(first)
        if last and int(last) < start:
            return None
        out.append((start, int(last) + 1 if last else None))
    return out or None


def _requested_ranges(item: ItemRecord) -> list[tuple[int, int]] | None:
    """Satisfiable ranges as [start, stop) (merged), None for 'whole file'; 416 raised."""
    header = request.headers.get("Range")
    if not header or "=" not in header:
        return None
    if_range = request.headers.get("If-Range")
    if if_range and if_range.strip('"') not in (
        item.sha1,
        serializers.http_date(item.modified),
    ):
        return None
    size = item.size
    unsatisfiable = HttpError(416, "Requested Range Not Satisfiable")
    unsatisfiable.headers["Content-Range"] = f"bytes */{size}"
    parsed = parse_byte_ranges(header)
    if parsed is None or size == 0:
        raise unsatisfiable
    spans: list[tuple[int, int]] = []
    for begin, end in parsed:
        if begin < 0:
            start, stop = max(size + begin, 0), size
        else:
            start, stop = begin, size if end is None else min(end, size)
        if start < size and stop > start:
            spans.append((start, stop))
    if not spans:
        raise unsatisfiable
    spans.sort()
    merged = [spans[0]]
    for start, stop in spans[1:]:
        last_start, last_stop = merged[-1]
        if start <= last_stop:
            merged[-1] = (last_start, max(last_stop, stop))
        else:
            merged.append((start, stop))
    return merged


def _not_modified(item: ItemRecord) -> bool:
    """RFC 7232: ``If-None-Match`` (sha1 ETags, ``*``) wins over ``If-Modified-Since``."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
        return "*" in tags or item.sha1 in tags
    since = request.headers.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError, IndexError):
        return False
    if when.tzinfo is None:
        return False
    return item.modified // 1000 <= int(when.timestamp())


def _file_response(item: ItemRecord) -> Response:
    headers = _file_headers(item)
    mime = item.mime_type or "application/octet-stream"
    if _not_modified(item):
        return Response(status=304, headers=headers)
    try:
        ranges = _requested_ranges(item)
    except HttpError as exc:
        resp = Response(b"", status=416, headers=headers)
        resp.headers.update(exc.headers)
        return resp
    store = emulator().store
    head = request.method == "HEAD"
    if ranges is None:
        body: Any = [] if head else _stream(store, item, [(0, item.size)])
        resp = Response(
            body, status=200, headers=headers, content_type=mime, direct_passthrough=True
        )
        resp.headers["Content-Length"] = str(item.size)
        return resp
    if len(ranges) == 1:
        start, stop = ranges[0]
        body = [] if head else _stream(store, item, ranges)
        resp = Response(
            body, status=206, headers=headers, content_type=mime, direct_passthrough=True
        )
        resp.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{item.size}"
        resp.headers["Content-Length"] = str(stop - start)
        return resp
    parts = [
        (
            f"\r\n--{MULTIPART_BOUNDARY}\r\nContent-Type: {mime}\r\n"
            f"Content-Range: bytes {start}-{stop - 1}/{item.size}\r\n\r\n"
        ).encode()
        for start, stop in ranges
    ]
    closing = f"\r\n--{MULTIPART_BOUNDARY}--\r\n".encode()
    length = sum(len(p) for p in parts) + sum(b - a for a, b in ranges) + len(closing)

    def multipart() -> Iterator[bytes]:
        for part, span in zip(parts, ranges, strict=True):
            yield part
            yield from _stream(store, item, [span])
        yield closing

    resp = Response(
        [] if head else multipart(),
        status=206,
        headers=headers,
        content_type=f"multipart/byteranges; boundary={MULTIPART_BOUNDARY}",
        direct_passthrough=True,
    )
    resp.headers["Content-Length"] = str(length)
    return resp


# -- delete ----------------------------------------------------------------------------


def delete_item(req: RepoRequest) -> Response:
    """``DELETE /{repo}/{path}``: file or folder (recursive), 204; root needs admin."""
    who = principal()
    target = f"{req.repo}:{req.path}"
    if req.path == "":
        require(who, "admin", f"Not enough permissions to delete content of repository {req.repo}.")
    require(
        who,
        "delete",
        f"Not enough permissions to delete/overwrite artifact '{target}' "
        f"(user: '{who.name}' needs DELETE permission).",
    )
    try:
        emulator().store.delete(req.repo, req.path)
    except (NoSuchItem, NoSuchRepo):
        raise HttpError(404, f"Could not locate artifact '{target}' (Nothing to delete).") from None
    return Response(status=204)


_REPO_HANDLERS = {
    "PUT": deploy_artifact,
    "GET": retrieve_artifact,
    "HEAD": retrieve_artifact,
    "DELETE": delete_item,
}
