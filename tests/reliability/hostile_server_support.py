"""A tiny hostile Artifactory for the plugin's tests (test_hostile_server, test_secrets).

Small purpose-built Flask apps, served on 127.0.0.1 (port 0) by the tests, that speak
just enough Artifactory: Folder Info, File List and file GET/PUT.  Each one lies in the
way its :class:`Behaviour` says: listings with ``..`` or absolute paths, bodies that do
not match the reported checksums or sizes, or redirects to another host (a second
server on 127.0.0.2 that records every header it receives).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from reliability_support import REPO

#: The plugin's ways to authenticate, each test runs with all of them.
AUTH_MODES = ["token", "key", "basic"]
MARKER = "relescapemarker"
FOLDER = "run"


@dataclass
class Seen:
    method: str
    host: str
    path: str
    headers: dict[str, str]


@dataclass
class Entry:
    uri: str  # relative to FOLDER, with a leading "/", as the File List reports it
    body: bytes = b""
    folder: bool = False


@dataclass
class Behaviour:
    """How the hostile server lies. Defaults: an honest server."""

    entries: list[Entry]
    pro: bool = True
    #: (path relative to FOLDER) -> (body to send, headers to send)
    serve: Callable[[Entry], tuple[bytes, dict[str, str]]] | None = None
    redirect_to: str | None = None  # base URL of another host
    redirect_ops: frozenset[str] = frozenset()  # "download", "storage", "upload"
    seen: list[Seen] = field(default_factory=list)


def checksums_of(data: bytes) -> dict[str, str]:
    return {
        "X-Checksum-Sha1": hashlib.sha1(data).hexdigest(),
        "X-Checksum-Sha256": hashlib.sha256(data).hexdigest(),
        "X-Checksum-Md5": hashlib.md5(data).hexdigest(),
        "ETag": hashlib.sha1(data).hexdigest(),
    }


def honest_body(entry: Entry) -> tuple[bytes, dict[str, str]]:
    return entry.body, checksums_of(entry.body)


def hostile_app(b: Behaviour) -> Flask:
    app = Flask("hostile-artifactory")

    def find(rel: str) -> Entry | None:
        for e in b.entries:
            if e.uri.lstrip("/") == rel:
                return e
        return None

    def redirect(op: str) -> Response | None:
        if b.redirect_to and op in b.redirect_ops:
            raw = request.environ.get("REQUEST_URI") or request.full_path
            status = 307 if request.method == "PUT" else 302
            return Response(status=status, headers={"Location": b.redirect_to + raw})
        return None

    @app.route("/<path:raw>", methods=["GET", "HEAD", "PUT", "DELETE"])
    def everything(raw: str) -> Response:
        b.seen.append(Seen(request.method, request.host, raw, dict(request.headers)))
        base = request.host_url.rstrip("/") + "/artifactory"
        if raw.startswith("artifactory/api/storage/"):
            if (r := redirect("storage")) is not None:
                return r
            rest = raw[len("artifactory/api/storage/") :].split("/", 1)
            rel = rest[1].strip("/") if len(rest) > 1 else ""
            if "list" in request.args:
                if not b.pro:
                    msg = "This REST API is available only in Artifactory Pro."
                    return Response(
                        json.dumps({"errors": [{"status": 400, "message": msg}]}),
                        status=400,
                        content_type="application/json",
                    )
                if rel != FOLDER:
                    return Response(status=404)
                files = []
                for e in b.entries:
                    item: dict[str, Any] = {
                        "uri": e.uri,
                        "size": -1 if e.folder else len(e.body),
                        "lastModified": "2026-01-01T00:00:00.000Z",
                        "folder": e.folder,
                    }
                    if not e.folder:
                        item["sha1"] = hashlib.sha1(e.body).hexdigest()
                        item["sha2"] = hashlib.sha256(e.body).hexdigest()
                    files.append(item)
                return Response(
                    json.dumps({"uri": f"{base}/api/storage/{REPO}/{rel}", "files": files}),
                    content_type="application/json",
                )
            if rel == FOLDER:
                children = [{"uri": e.uri, "folder": e.folder} for e in b.entries]
                body = {"repo": REPO, "path": f"/{rel}", "children": children}
                return Response(json.dumps(body), content_type="application/json")
            entry = find(rel[len(FOLDER) + 1 :]) if rel.startswith(FOLDER + "/") else None
            if entry is None:
                return Response(
                    json.dumps({"errors": [{"status": 404, "message": "Unable to find item"}]}),
                    status=404,
                    content_type="application/json",
                )
            info: dict[str, Any]
            if entry.folder:
                info = {"repo": REPO, "path": f"/{rel}", "children": []}
            else:
                info = {
                    "repo": REPO,
                    "path": f"/{rel}",
                    "size": str(len(entry.body)),
                    "checksums": {
                        "sha1": hashlib.sha1(entry.body).hexdigest(),
                        "sha256": hashlib.sha256(entry.body).hexdigest(),
                        "md5": hashlib.md5(entry.body).hexdigest(),
                    },
                }
            return Response(json.dumps(info), content_type="application/json")
        if request.method == "PUT":
            if (r := redirect("upload")) is not None:
                return r
            request.get_data()
            return Response(json.dumps({"repo": REPO, "path": "/x"}), status=201)
        if request.method == "DELETE":
            return Response(status=204)
        if (r := redirect("download")) is not None:
            return r
        prefix = f"artifactory/{REPO}/{FOLDER}/"
        entry = find(raw[len(prefix) :]) if raw.startswith(prefix) else None
        if entry is None or entry.folder:
            return Response(
                json.dumps({"errors": [{"status": 404, "message": "File not found."}]}),
                status=404,
                content_type="application/json",
            )
        data, headers = (b.serve or honest_body)(entry)
        return Response(data, headers=headers, content_type="application/octet-stream")

    return app


def marker_files(root: Path, max_depth: int) -> list[str]:
    hits = []
    for dirpath, dirnames, filenames in os.walk(root):
        if len(Path(dirpath).relative_to(root).parts) >= max_depth - 1:
            dirnames[:] = []
        hits += [f"{dirpath}/{n}" for n in dirnames + filenames if MARKER in n]
    return hits
