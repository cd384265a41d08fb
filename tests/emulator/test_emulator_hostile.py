"""Broken or abusive requests get a clear 4xx and store nothing."""

from __future__ import annotations

import base64
import socket
from urllib.parse import urlsplit

import pytest
import requests
from emulator_support import REPO, errors_of

AUTH_HEADER = "Authorization: Basic " + base64.b64encode(b"admin:password").decode()


def send_raw(root_url: str, data: bytes, timeout: float = 30) -> tuple[int | None, bytes]:
    """Send bytes, half-close, read everything; (status or None, raw response)."""
    parts = urlsplit(root_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    raw = b"".join(chunks)
    if not raw.startswith(b"HTTP/1.1 "):
        return None, raw
    return int(raw[9:12]), raw


def head(method: str, target: str, extra: str = "") -> bytes:
    return (
        f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"{AUTH_HEADER}\r\n{extra}\r\n"
    ).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"5\r\nab",
        b"-1\r\nabc\r\n0\r\n\r\n",
        b"ffffffffffffffffffff\r\nabc\r\n",
        b"3\r\nabcXX0\r\n\r\n",
        b"3\r\nabc\r\n",
    ],
)
def test_malformed_chunked_bodies_store_nothing(fake_artifactory, body):
    target = f"/artifactory/{REPO}/bad-chunked.bin"
    status, _ = send_raw(
        fake_artifactory.root_url, head("PUT", target, "Transfer-Encoding: chunked\r\n") + body
    )
    assert status is None or 400 <= status < 500
    assert fake_artifactory.state()["repos"][REPO]["items"] == {}


def test_valid_chunked_body_with_trailer(fake_artifactory, session, repo_url):
    target = f"/artifactory/{REPO}/good-chunked.bin"
    body = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    status, _ = send_raw(
        fake_artifactory.root_url, head("PUT", target, "Transfer-Encoding: chunked\r\n") + body
    )
    assert status == 201
    assert session.get(f"{repo_url}/good-chunked.bin").content == b"abcde"


def test_body_shorter_than_content_length_stores_nothing(fake_artifactory):
    target = f"/artifactory/{REPO}/short.bin"
    status, _ = send_raw(
        fake_artifactory.root_url, head("PUT", target, "Content-Length: 1000\r\n") + b"y" * 10
    )
    assert status is None or 400 <= status < 500
    assert fake_artifactory.state()["repos"][REPO]["items"] == {}


def test_overlong_names_and_paths_are_400(fake_artifactory):
    for path in ["n" * 256, "/".join(["d" * 200] * 6)]:
        status, raw = send_raw(
            fake_artifactory.root_url,
            head("PUT", f"/artifactory/{REPO}/{path}", "Content-Length: 1\r\n") + b"x",
        )
        assert status == 400, raw[:200]
    assert fake_artifactory.state()["repos"][REPO]["items"] == {}
    ok = requests.put(
        f"{fake_artifactory.url}/{REPO}/{'n' * 255}", data=b"x", auth=fake_artifactory.auth
    )
    assert ok.status_code == 201


def test_oversized_request_head_is_4xx(fake_artifactory):
    status, _ = send_raw(
        fake_artifactory.root_url,
        head("GET", "/artifactory/api/system/ping", f"X-Filler: {'b' * 70_000}\r\n"),
    )
    assert status is not None and 400 <= status < 500


def test_repo_create_with_non_object_json_is_400(session, base):
    resp = session.put(
        f"{base}/api/repositories/x-local",
        data=b"[1, 2]",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400


def test_stalled_upload_times_out_while_others_are_served(make_server):
    server = make_server(socket_timeout=1)
    parts = urlsplit(server.root_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as stalled:
        stalled.sendall(
            head("PUT", f"/artifactory/{REPO}/stall.bin", "Content-Length: 100000\r\n") + b"z" * 10
        )
        ok = requests.put(f"{server.url}/{REPO}/ok.bin", data=b"ok", auth=("admin", "password"))
        assert ok.status_code == 201
        raw = b""
        try:
            while chunk := stalled.recv(65536):
                raw += chunk
        except ConnectionResetError:
            pass
    assert raw == b"" or raw.startswith(b"HTTP/1.1 4")
    resp = requests.get(f"{server.url}/{REPO}/stall.bin", auth=("admin", "password"))
    assert errors_of(resp)[0] == 404
