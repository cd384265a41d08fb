"""The plain-file fast path answers exactly like the Flask views, on the wire.

Two emulators with the same settings, one with ``fast_path=False``, receive the same
raw requests; status lines, headers (in order), bodies and journal entries must match
once the clock-dependent values are masked.  The requests cover what the fast path
serves (plain GET/HEAD/PUT, small and large bodies, overwrites, checksum headers) and
what it must hand to Flask (ranges, conditionals, checksum deploy, matrix parameters,
query strings, folders, missing items, bad or insufficient credentials).
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Iterator

import pytest
import requests

from fake_artifactory.config import EmulatorConfig, UserSpec
from fake_artifactory.server import ThreadedServer
from fake_artifactory.web.uploads import SMALL_BODY_BYTES

REPO = "example-repo-local"
TOKEN = "fast-path-token"
BIG = bytes(range(256)) * ((SMALL_BODY_BYTES + 4096) // 256)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


ADMIN = {"Authorization": f"Bearer {TOKEN}"}
DEPLOYER = {"Authorization": _basic("deployer", "deploypw")}  # no delete permission
READER = {"Authorization": _basic("reader", "readpw")}


def _req(method: str, target: str, body: bytes | None = None, **headers: str) -> bytes:
    auth = headers.pop("auth", None)
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1:8081"]
    lines += [f"{k}: {v}" for k, v in (ADMIN if auth is None else {"X": auth}).items()]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if body is not None and "Transfer-Encoding" not in "".join(lines):
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def _fix_auth(raw: bytes) -> bytes:
    # "X: <value>" stands for a custom Authorization header (or none when empty).
    return re.sub(rb"X: ([^\r]*)\r\n", lambda m: b"Authorization: " + m[1] + b"\r\n", raw).replace(
        b"Authorization: \r\n", b""
    )


F = f"/artifactory/{REPO}"
SCENARIO: list[bytes] = [
    _req("PUT", f"{F}/a/b.txt", b"hello world"),
    _req("PUT", f"{F}/a/b.txt", b"hello again"),  # overwrite
    _req("PUT", f"{F}/a/same.bin", b"hello again"),  # same content: blob already stored
    _req("PUT", f"{F}/a/big.bin", BIG),  # streamed to a temp file
    _req("PUT", f"{F}/a/empty.txt", b""),
    _req(
        "PUT",
        f"{F}/a/sums.txt",
        b"hello world",
        X_Checksum_Sha1="2aae6c35c94fcfb415dbe95f408b9ce91ee846ed",
        X_Checksum_Md5="5eb63bbbe01eeed093cb22bb8f5acdc3",
    ),
    _req("PUT", f"{F}/a/bad.txt", b"hello", X_Checksum_Sha1="0" * 40),
    _req("PUT", f"{F}/a/generic.txt", b"hello", X_Checksum="0" * 64),
    _req("PUT", f"{F}/a", b"onto a folder"),
    _req("PUT", f"{F}/a/b.txt/child.txt", b"under a file"),
    _req("PUT", f"{F}/a/sp%20ace%20%C3%A9.txt", b"name"),
    _req("PUT", f"{F}/a/quote%22d.tar.gz", b"name"),
    _req("PUT", f"{F}/a/short.txt", b"abc", Content_Length="10"),
    _req("PUT", f"{F}/a/chunked.txt", b"5\r\nhello\r\n0\r\n\r\n", Transfer_Encoding="chunked"),
    _req("PUT", f"{F}/a/agent.txt", b"x", User_Agent="ArtifactoryBuildClient/2.0"),
    _req("PUT", f"{F}/a/base.txt", b"x", X_JFrog_Override_Base_Url="https://h.example/x"),
    _req("PUT", f"{F}/a/props.txt;k=v;k=w", b"x"),
    _req("PUT", f"{F}/a/query.txt?x=1", b"x"),
    _req("PUT", f"{F}/a/b.txt.sha1", b"0" * 40),
    _req("PUT", f"{F}/a/dedup.txt", b"", X_Checksum_Deploy="true", X_Checksum_Sha1="0" * 40),
    _req("PUT", "/artifactory/no-such-repo/a.txt", b"x"),
    _req("PUT", f"{F}/a/anon.txt", b"x", auth=""),
    _req("PUT", f"{F}/a/wrong.txt", b"x", auth="Bearer wrong"),
    _req("PUT", f"{F}/a/deployer.txt", b"x", auth=DEPLOYER["Authorization"]),
    _req("PUT", f"{F}/a/b.txt", b"x", auth=DEPLOYER["Authorization"]),
    _req("PUT", f"{F}/a/reader.txt", b"x", auth=READER["Authorization"]),
    _req("GET", f"{F}/a/b.txt"),
    _req("HEAD", f"{F}/a/b.txt"),
    _req("GET", f"{F}/a/big.bin"),
    _req("GET", f"{F}/a/empty.txt"),
    _req("GET", f"{F}/a/sp%20ace%20%C3%A9.txt"),
    _req("GET", f"{F}/a/quote%22d.tar.gz"),
    _req("GET", f"{F}/a/missing.txt"),
    _req("GET", f"{F}/a"),
    _req("GET", f"{F}/a/"),
    _req("GET", f"{F}/a/b.txt", Range="bytes=1-3"),
    _req("GET", f"{F}/a/b.txt", If_None_Match="*"),
    _req("GET", f"{F}/a/b.txt?x=1"),
    _req("GET", f"{F}/a/b.txt;k=v"),
    _req("GET", f"{F}/a/b.txt", auth=""),
    _req("GET", f"{F}/a/b.txt", auth="Bearer wrong"),
    _req("GET", f"{F}/a/b.txt", auth=READER["Authorization"]),
    _req("GET", f"{F}/a/b.txt", auth="", X_JFrog_Art_Api=TOKEN),
    _req("GET", "/artifactory/no-such-repo/a/b.txt"),
    # encodings, slash runs, folders, framing, bad credentials
    _req("PUT", f"{F}/a/plus+sign.txt", b"p"),
    _req("GET", f"{F}/a/plus%2Bsign.txt"),
    _req("PUT", f"{F}/a/h%23a%25sh%3Bx.txt", b"p"),
    _req("GET", f"{F}/a/h%23a%25sh%3Bx.txt"),
    _req("PUT", f"{F}//a//runs.txt", b"r"),
    _req("GET", f"{F}/a/./runs.txt"),
    _req("GET", f"/artifactory//{REPO}/a/runs.txt"),
    _req("PUT", f"{F}/a/%2e%2e/up.txt", b"x"),
    _req("GET", f"{F}/a/b.txt/"),
    _req("HEAD", f"{F}/a"),
    _req("HEAD", f"{F}/a/"),
    _req("PUT", f"{F}/a/expect.txt", b"e", Expect="100-continue"),
    _req("PUT", f"{F}/a/long.txt", b"abcdef", Content_Length="3"),
    _req(
        "PUT",
        f"{F}/a/both.txt",
        b"3\r\nabc\r\n0\r\n\r\n",
        Transfer_Encoding="chunked",
        Content_Length="3",
    ),
    _req("PUT", f"{F}/a/x.tar", b"not a tar", X_Explode_Archive="true"),
    _req("GET", f"{F}/a/b.txt", auth=_basic("admin", "wrong")),
    _req("GET", f"{F}/a/b.txt", auth="", X_Api_Key="wrong"),
    _req("PUT", f"{F}/a/b.txt", b"y", auth=_basic("admin", "password")),
    _req("DELETE", f"{F}/a/b.txt"),
    _req("GET", f"{F}/a/b.txt"),
]


def _send(port: int, raw: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_fix_auth(raw))
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while data := sock.recv(1 << 16):
            chunks.append(data)
    return b"".join(chunks)


_CLOCK = [
    (rb"Date: [^\r]*", b"Date: *"),
    (rb"Last-Modified: [^\r]*", b"Last-Modified: *"),
    (rb'"(created|lastModified|lastUpdated)" : "[^"]*"', rb'"\1" : "*"'),
]


def _masked(raw: bytes) -> bytes:
    for pattern, repl in _CLOCK:
        raw = re.sub(pattern, repl, raw)
    return raw


def _journal(server: ThreadedServer) -> list[dict[str, object]]:
    entries = requests.get(server.root_url + "/_fake/requests", timeout=30).json()["requests"]
    for entry in entries:
        for key in ("time", "duration_ms"):
            entry.pop(key)
    return entries


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[ThreadedServer, ThreadedServer]]:
    config = EmulatorConfig(
        port=0,
        tokens=(TOKEN,),
        users=(
            UserSpec("admin", "password"),
            UserSpec("reader", "readpw", frozenset({"read"})),
            UserSpec("deployer", "deploypw", frozenset({"read", "deploy"})),
        ),
    )
    with ThreadedServer(config) as fast, ThreadedServer(config, fast_path=False) as slow:
        yield fast, slow


def test_fast_path_answers_like_flask(servers: tuple[ThreadedServer, ThreadedServer]) -> None:
    fast, slow = servers
    for raw in SCENARIO:
        got, want = _masked(_send(fast.port, raw)), _masked(_send(slow.port, raw))
        assert got == want, raw.split(b"\r\n", 1)[0]
    assert _journal(fast) == _journal(slow)


@pytest.mark.parametrize("anonymous", ["read", "write"])
def test_fast_path_answers_anonymous_like_flask(anonymous: str) -> None:
    config = EmulatorConfig(port=0, tokens=(TOKEN,), anonymous=anonymous)
    scenario = [
        _req("PUT", f"{F}/anon/a.txt", b"by admin"),
        _req("GET", f"{F}/anon/a.txt", auth=""),
        _req("HEAD", f"{F}/anon/a.txt", auth=""),
        _req("PUT", f"{F}/anon/b.txt", b"by anonymous", auth=""),
        _req("PUT", f"{F}/anon/a.txt", b"overwrite", auth=""),
        _req("GET", f"{F}/anon/b.txt", auth=""),
    ]
    with ThreadedServer(config) as fast, ThreadedServer(config, fast_path=False) as slow:
        for raw in scenario:
            got, want = _masked(_send(fast.port, raw)), _masked(_send(slow.port, raw))
            assert got == want, raw.split(b"\r\n", 1)[0]
        assert _journal(fast) == _journal(slow)


def test_fast_path_serves_concurrent_clients(
    servers: tuple[ThreadedServer, ThreadedServer],
) -> None:
    fast, _ = servers
    from concurrent.futures import ThreadPoolExecutor

    def roundtrip(i: int) -> bytes:
        with requests.Session() as s:
            s.headers.update(ADMIN)
            url = f"{fast.url}/{REPO}/conc/{i % 4}/f{i}.bin"
            s.put(url, data=bytes([i % 256]) * (i * 37), timeout=30).raise_for_status()
            return s.get(url, timeout=30).content

    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(roundtrip, range(64)))
    assert bodies == [bytes([i % 256]) * (i * 37) for i in range(64)]
