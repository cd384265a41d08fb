"""The session resolves proxies and CA bundles once per origin, with requests' rules.

Real things only: the emulator over HTTP and HTTPS (trustme CA), and a small forwarding
proxy on 127.0.0.1 that relays bytes (``CONNECT`` tunnels and absolute-form requests) and
records the first line of each connection.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from support.tls import tls_emulator

from jfrog_mlflow import session as session_mod
from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import TLSVerifyFailed

_PROXY_VARS = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "REQUEST_METHOD",
)


class RelayProxy:
    """A forwarding proxy: ``CONNECT`` tunnels and absolute-form HTTP requests."""

    def __init__(self) -> None:
        self.first_lines: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                data = client.recv(65536)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            self.first_lines.append(line)
            method, target, _ = line.split(" ", 2)
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                rest = head.split(b"\r\n\r\n", 1)[1]
                upstream = socket.create_connection((host, int(port)))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                # One request per connection: origin-form target, "Connection: close".
                parts = urlsplit(target)
                upstream = socket.create_connection((parts.hostname, parts.port or 80))
                _, _, tail = head.partition(b"\r\n")
                tail = b"\r\n".join(
                    h for h in tail.split(b"\r\n") if not h.lower().startswith(b"connection:")
                )
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                rest = f"{method} {path} HTTP/1.1\r\nConnection: close\r\n".encode() + tail
            with upstream:
                if rest:
                    upstream.sendall(rest)
                self._relay(client, upstream)

    def _relay(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        while not self._stop.is_set():
            ready, _, _ = select.select(list(peers), [], [], 0.2)
            for s in ready:
                try:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
                except OSError:
                    return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for t in self._threads:
            t.join(timeout=5)


@pytest.fixture
def proxy() -> Iterator[RelayProxy]:
    p = RelayProxy()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", "/nonexistent-netrc-for-tests")
    return monkeypatch


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    with tls_emulator(tmp_path_factory.mktemp("tls-env")) as (server, ca_file):
        yield server, str(ca_file)


def _client(url: str, **env: str) -> ArtifactoryClient:
    return ArtifactoryClient(
        url, PluginConfig.from_env({"MLFLOW_ARTIFACTORY_MAX_RETRIES": "0", **env})
    )


def _put_and_get(client: ArtifactoryClient, repo: str, name: str) -> bytes:
    url = f"{client.base_url}/{repo}/env/{name}"
    resp = client.request("PUT", url, what="put", data=b"via " + name.encode())
    client.check(resp, what="put", ok=(201,))
    resp = client.request("GET", url, what="get")
    client.check(resp, what="get")
    return resp.content


def test_http_proxy_is_used_and_no_proxy_bypasses_it(fake_artifactory, clean_env, proxy):
    clean_env.setenv("HTTP_PROXY", proxy.url)
    clean_env.setenv("http_proxy", proxy.url)
    client = _client(fake_artifactory.url, MLFLOW_ARTIFACTORY_TOKEN=fake_artifactory.token)
    assert _put_and_get(client, fake_artifactory.repo, "a") == b"via a"
    assert proxy.first_lines, "the proxy from the environment was not used"
    assert all(line.split(" ")[1].startswith("http://127.0.0.1:") for line in proxy.first_lines)
    client.close()

    seen = len(proxy.first_lines)
    clean_env.setenv("NO_PROXY", "127.0.0.1,localhost")
    clean_env.setenv("no_proxy", "127.0.0.1,localhost")
    client = _client(fake_artifactory.url, MLFLOW_ARTIFACTORY_TOKEN=fake_artifactory.token)
    assert _put_and_get(client, fake_artifactory.repo, "b") == b"via b"
    assert len(proxy.first_lines) == seen, "NO_PROXY was not honoured"
    client.close()


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_https_proxy_tunnel_and_ca_bundle_variables(tls_server, clean_env, proxy, variable):
    server, ca_file = tls_server
    base = f"https://127.0.0.1:{server.port}/artifactory"
    clean_env.setenv("HTTPS_PROXY", proxy.url)
    clean_env.setenv("https_proxy", proxy.url)

    # No bundle: the emulator's certificate is not trusted, through the proxy too.
    client = _client(base, MLFLOW_ARTIFACTORY_TOKEN="tls-token")
    with pytest.raises(TLSVerifyFailed):
        client.request("GET", f"{base}/api/repositories", what="list")
    client.close()
    assert proxy.first_lines and proxy.first_lines[0].startswith("CONNECT 127.0.0.1:")

    clean_env.setenv(variable, ca_file)
    env = {"MLFLOW_ARTIFACTORY_TOKEN": "tls-token", **dict(os.environ)}
    client = ArtifactoryClient(base, PluginConfig.from_env(env))
    assert _put_and_get(client, "example-repo-local", variable) == b"via " + variable.encode()
    client.close()
    assert all(line.startswith("CONNECT ") for line in proxy.first_lines)


def test_environment_is_read_once_per_origin(fake_artifactory, clean_env, monkeypatch):
    calls: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: Any = None) -> Any:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    client = _client(fake_artifactory.url, MLFLOW_ARTIFACTORY_TOKEN=fake_artifactory.token)
    for _ in range(20):
        client.request("GET", f"{fake_artifactory.root_url}/api/system/ping", what="ping")
    assert len(calls) == 1
    other = fake_artifactory.url.replace("127.0.0.1", "localhost")
    client.request("GET", other.rsplit("/", 1)[0] + "/api/system/ping", what="ping")
    assert len(calls) == 2
    client.close()


def test_netrc_is_still_read_per_request(fake_artifactory, clean_env, tmp_path):
    """Only without configured credentials, and as requests does: a change is seen."""
    url = f"{fake_artifactory.url}/{fake_artifactory.repo}/env/netrc.txt"
    client = _client(fake_artifactory.url)
    assert client.request("PUT", url, what="put", data=b"x").status_code == 401

    netrc = tmp_path / "netrc"
    netrc.write_text(
        f"machine 127.0.0.1 login {fake_artifactory.user} password {fake_artifactory.password}\n"
    )
    netrc.chmod(0o600)
    clean_env.setenv("NETRC", str(netrc))
    assert client.request("PUT", url, what="put", data=b"x").status_code == 201
    clean_env.setenv("NETRC", str(tmp_path / "missing"))
    assert client.request("PUT", url, what="put", data=b"x").status_code == 401
    client.close()


def test_adapter_checks_a_missing_bundle_like_requests(tmp_path):
    adapter = session_mod._BigBlockAdapter()

    class Conn:
        cert_reqs: str | None = None
        ca_certs: str | None = None
        ca_cert_dir: str | None = None

    conn = Conn()
    with pytest.raises(OSError, match="invalid path"):
        adapter.cert_verify(conn, "https://h/", str(tmp_path / "missing.pem"), None)
    adapter.cert_verify(conn, "https://h/", str(tmp_path), None)
    assert (conn.cert_reqs, conn.ca_cert_dir) == ("CERT_REQUIRED", str(tmp_path))
    adapter.cert_verify(conn, "http://h/", True, None)
    assert (conn.cert_reqs, conn.ca_certs, conn.ca_cert_dir) == ("CERT_NONE", None, None)


def test_a_changed_proxy_or_ca_variable_gets_a_fresh_shared_client(plugin_env, monkeypatch):
    """Repositories share one client per config; the cached proxy/CA answers are part of
    that key, so changing those variables mid-process is not silently ignored."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    first = get_artifact_repository("artifactory://env-key/a").client
    assert get_artifact_repository("artifactory://env-key/b").client is first
    monkeypatch.setenv("no_proxy", "example.invalid")
    assert get_artifact_repository("artifactory://env-key/c").client is not first
