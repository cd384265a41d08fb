"""Receiving an upload and answering a deploy: shared by the file views, the explode
deploy and the plain-request fast path, so they cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from fake_artifactory.core import serializers, uri
from fake_artifactory.core.checksums import verify_client_checksums
from fake_artifactory.core.errors import ChecksumMismatch, HttpError
from fake_artifactory.core.records import ItemRecord
from fake_artifactory.core.uri import RepoRequest
from fake_artifactory.store import Store
from fake_artifactory.store.blobs import CHUNK_SIZE, StagedBlob

#: Uploads up to this declared size are received into memory rather than a temp file
#: (hashed there, and stored inline when small enough).
SMALL_BODY_BYTES = 256 * 1024


def created(item: ItemRecord, base: str, user_agent: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The 201 body and headers of a deploy or folder creation."""
    include_sha256 = "ArtifactoryBuildClient/" not in user_agent
    data = serializers.item_created_json(item, base, include_sha256=include_sha256).encode()
    location = uri.download_url(base, item.repo, item.path, folder=item.is_folder)
    headers = [
        ("Content-Type", serializers.ITEM_CREATED),
        ("Content-Length", str(len(data))),
        ("Location", uri.header_url(location)),
    ]
    return data, headers


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


def receive_body(
    store: Store,
    stream: Any,
    expected: int | None,
    environ: Mapping[str, Any],
    *,
    in_memory: bool = True,
) -> StagedBlob:
    """Stage a request body; a broken or short body stores nothing (400, connection closed).

    A body whose declared length is at most :data:`SMALL_BODY_BYTES` is received into
    memory (``in_memory``), anything else streamed to a temp file.
    """
    if in_memory and expected is not None and expected <= SMALL_BODY_BYTES:
        staged = store.stage_bytes(b"".join(body_chunks(stream)))
    else:
        staged = store.stage_upload(body_chunks(stream))
    if expected is not None and not environ.get("wsgi.input_terminated"):
        if staged.size != expected:
            staged.discard()
            raise HttpError(
                400,
                f"Request body ended after {staged.size} of {expected} bytes",
                {"Connection": "close"},
            )
    return staged


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
