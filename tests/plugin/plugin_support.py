"""Helpers of the plugin's archive-transfer tests (imported as ``plugin_support``).

A tree of awkward names, readers of a local tree and of the emulator's journal, tar
builders, and a forwarding proxy (on ``tests/support/wsgi_server``) that can answer a
request itself, rewrite its headers or replace the response body: a server that refuses
or ignores explode deploys, or sends a damaged or hostile folder archive. Its fixtures
are in ``conftest.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from support.wsgi_server import serve_wsgi

#: File names that exercise quoting, Unicode, long paths, an empty file and deep nesting.
NAMES = [
    "plain.txt",
    "ünïcödé/файл.txt",
    "emoji/🙂 smile.txt",
    "special/a;b#c%41+e&f=g@h:i [x] (y) ~'q'.txt",
    "deep/" + "x" * 120 + "/" + "y" * 150 + ".bin",
    "spaces in/name with spaces.txt",
    "日本語/テスト.json",
    "empty.bin",
    "d1/d2/d3/d4/leaf.txt",
    "z/zz.txt",
]


def write_tree(root: Path, names: list[str]) -> dict[str, bytes]:
    """Write random content (``empty.bin`` stays empty) under ``root``; returns it."""
    files = {}
    for i, rel in enumerate(names):
        data = b"" if rel == "empty.bin" else os.urandom(200 + 37 * i)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files[rel] = data
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root``: relative POSIX path -> content."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def leftovers(root: Path) -> list[Path]:
    """Temporary files of the plugin left below ``root`` (there must be none)."""
    return [p for p in root.rglob("*") if p.name.startswith(".jfrog-mlflow-")]


def journal(handle: Any, settle: float = 0.05) -> list[dict[str, Any]]:
    """Journal entries once the count stops growing (it trails the client a moment)."""
    entries = handle.requests()
    for _ in range(100):
        time.sleep(settle)
        again = handle.requests()
        if len(again) == len(entries):
            return again
        entries = again
    return entries


def calls(entries: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """``(method, uri, status)`` of journal entries, for assertion messages."""
    return [(e["method"], e["uri"], e["status"]) for e in entries]


def header(entry: dict[str, Any], name: str) -> str | None:
    """A request header of a journal entry, by case-insensitive name."""
    for key, value in (entry.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def download_into(repo: Any, path: str, dst: Path) -> Path:
    """``repo.download_artifacts(path)`` into the new directory ``dst``."""
    dst.mkdir()
    return Path(repo.download_artifacts(path, str(dst)))


def is_archive_get(method: str, path: str) -> bool:
    """Whether a request asks for a folder archive."""
    return method == "GET" and "/api/archive/download/" in path


def make_tar(members: list[tuple[str, bytes, bytes]]) -> bytes:
    """A tar of ``(name, type, content)`` members (type: tarfile REGTYPE, SYMTYPE...)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, content in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = content.decode()
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass
class Proxy:
    """Forwards to the emulator; ``intercept`` may answer a request itself."""

    #: (method, raw path, headers) -> (status, headers, body) or None to forward
    intercept: Callable[[str, str, dict[str, str]], tuple[int, dict[str, str], bytes] | None] = (
        lambda method, path, headers: None
    )
    #: (method, raw path, headers) -> headers to forward instead
    rewrite: Callable[[str, str, dict[str, str]], dict[str, str]] = lambda method, path, headers: (
        headers
    )
    #: (method, raw path, body) -> new response body, or None
    mutate: Callable[[str, str, bytes], bytes | None] = lambda method, path, body: None
    seen: list[tuple[str, str, int]] = field(default_factory=list)


@contextlib.contextmanager
def serve_proxy(upstream_root: str, rules: Proxy) -> Iterator[str]:
    """Serve a proxy to ``upstream_root`` that follows ``rules``; yields its root URL."""
    session = requests.Session()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("REQUEST_URI") or environ["PATH_INFO"]
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key[5:].lower() not in ("host", "connection")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        answer = rules.intercept(method, path, headers)
        if answer is None:
            resp = session.request(
                method,
                upstream_root + path,
                headers=rules.rewrite(method, path, headers),
                data=body,
                allow_redirects=False,
                timeout=30,
            )
            data = resp.content
            changed = rules.mutate(method, path, data)
            out = {k: v for k, v in resp.headers.items() if k.lower() not in _HOP}
            answer = (resp.status_code, out, data if changed is None else changed)
        status, out_headers, data = answer
        rules.seen.append((method, path, status))
        start_response(
            f"{status} X",
            [*out_headers.items(), ("Content-Length", str(len(data)))],
        )
        return [data]

    try:
        with serve_wsgi(app) as root:
            yield root
    finally:
        session.close()
