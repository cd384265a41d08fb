"""Every message in the troubleshooting table of docs/plugin.md is one the code prints.

Each situation the table covers is produced for real (the emulator over HTTP, a stalled
socket, a closed port, a name that does not resolve, a certificate from an unknown CA, a
proxy that alters bodies, MLflow's own registry) and its message collected. Every message
pattern of the table (a code span of the "Message (start)" column, ``…`` standing for
anything) must match one of them, and every collected message must match a row, so the
table can neither drift from the code nor miss a message.
"""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import (
    ArtifactRepositoryRegistry,
    get_artifact_repository,
)
from plugin_support import Proxy, serve_proxy
from support.sockets import Listener, full_backlog
from support.tls import tls_emulator
from support.wsgi_server import serve_wsgi

ROOT = Path(__file__).resolve().parents[2]
RUN = "0123456789abcdef0123456789abcdef"


def documented() -> list[list[str]]:
    """The code spans of the first column of each troubleshooting row."""
    text = (ROOT / "docs" / "plugin.md").read_text(encoding="utf-8")
    table = text.split("## Troubleshooting by error message", 1)[1]
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    spans = [re.findall(r"`([^`]+)`", row.split(" | ")[0]) for row in rows]
    return [s for s in spans if s]


def matches(span: str, message: str) -> bool:
    pattern = "^" + ".*?".join(re.escape(part) for part in span.split("…"))
    return re.search(pattern, message, re.DOTALL) is not None


def _write(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _message(call: Callable[[], object]) -> str:
    try:
        call()
    except MlflowException as exc:
        return exc.message
    raise AssertionError("no error")


def _html_site(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"<html><body>portal</body></html>"
    start_response("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]


def _lying_server(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Stores nothing; claims a deploy stored other bytes (its checksums are wrong)."""
    environ["wsgi.input"].read()
    if environ["REQUEST_METHOD"] == "PUT":
        body = b'{"checksums": {"sha1": "%s", "sha256": "%s"}}' % (b"1" * 40, b"2" * 64)
        start_response("201 Created", [("Content-Type", "application/json")])
        return [body]
    start_response("204 No Content", [])
    return []


@pytest.fixture
def messages(
    plugin_env: Any,
    oss_server: Any,
    no_annotate_server: Any,
    fresh_clients: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> list[str]:
    """What the plugin (and MLflow around it) prints in each documented situation."""
    found: list[str] = []
    local = _write(tmp_path / "f.txt")
    repo = get_artifact_repository

    # Configuration and URIs (no server needed).
    with monkeypatch.context() as m:
        m.setenv("MLFLOW_ARTIFACTORY_MAX_WORKERS", "many")
        found.append(_message(lambda: repo("artifactory://x")))
        m.delenv("MLFLOW_ARTIFACTORY_MAX_WORKERS")
        m.setenv("MLFLOW_ARTIFACTORY_USER", "bob")
        found.append(_message(lambda: repo("artifactory://x")))
        m.delenv("MLFLOW_ARTIFACTORY_USER")
        m.delenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL")
        found.append(_message(lambda: repo("artifactory://x")))
    found.append(_message(lambda: repo("artifactory://evil.example:8443/artifactory/r/x")))
    found.append(
        _message(
            lambda: repo("artifactory://exp/run").log_artifact(str(_write(tmp_path / " lead.txt")))
        )
    )
    found.append(
        _message(lambda: ArtifactRepositoryRegistry().get_artifact_repository("artifactory://exp"))
    )

    # Credentials.
    with monkeypatch.context() as m:
        m.setenv("MLFLOW_ARTIFACTORY_TOKEN", "wrong")
        found.append(_message(lambda: repo("artifactory://exp/run").log_artifact(str(local))))
        m.setenv("_MLFLOW_SERVER_ARTIFACT_DESTINATION", "artifactory://dest")
        found.append(_message(lambda: repo("artifactory://exp/run").log_artifact(str(local))))
        m.delenv("_MLFLOW_SERVER_ARTIFACT_DESTINATION")
        m.delenv("MLFLOW_ARTIFACTORY_TOKEN")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        m.setenv("MLFLOW_ARTIFACTORY_KEY", "AKCpWrongKey")
        found.append(_message(lambda: repo("artifactory://exp/run").log_artifact(str(local))))
        m.delenv("MLFLOW_ARTIFACTORY_KEY")
        m.setenv("MLFLOW_ARTIFACTORY_TOKEN_FILE", str(tmp_path / "missing-token"))
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        _write(tmp_path / "missing-token", b"\n")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
    with monkeypatch.context() as m:  # authenticated, not allowed: the read-only user
        m.delenv("MLFLOW_ARTIFACTORY_TOKEN")
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", oss_server.url)
        m.setenv("MLFLOW_ARTIFACTORY_USER", "reader")
        m.setenv("MLFLOW_ARTIFACTORY_PASSWORD", "readerpw")
        found.append(_message(lambda: repo("artifactory://exp/run").log_artifact(str(local))))

    # Wrong repository, wrong endpoint, missing file.
    with monkeypatch.context() as m:
        m.setenv("MLFLOW_ARTIFACTORY_REPO", "no-such-repo")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        m.setenv("MLFLOW_ARTIFACTORY_REPO", plugin_env.repo)
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", plugin_env.root_url)
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        with serve_wsgi(_html_site) as site:
            m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", site)
            found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
    found.append(
        _message(
            lambda: repo("artifactory://exp/run").download_artifacts("nope.txt", str(tmp_path))
        )
    )

    # No response: stalled, refused, no DNS answer, untrusted certificate.
    with monkeypatch.context() as m, Listener() as stalled:
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", f"http://127.0.0.1:{stalled.port}/artifactory")
        m.setenv("MLFLOW_ARTIFACTORY_TIMEOUT", "0.2")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        for i in range(12):
            _write(tmp_path / "tree" / f"f{i}.txt")
        m.setenv("MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "off")
        m.setenv("MLFLOW_ARTIFACTORY_MAX_WORKERS", "2")
        found.append(
            _message(lambda: repo("artifactory://exp/run").log_artifacts(str(tmp_path / "tree")))
        )
    with monkeypatch.context() as m, full_backlog() as port:
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", f"http://127.0.0.1:{port}/artifactory")
        m.setenv("MLFLOW_ARTIFACTORY_CONNECT_TIMEOUT", "0.2")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
    with monkeypatch.context() as m:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", f"http://127.0.0.1:{closed}/artifactory")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", "http://artifactory.invalid/artifactory")
        found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))
        (tmp_path / "tls").mkdir()
        with tls_emulator(tmp_path / "tls") as (server, _):
            m.setenv(
                "MLFLOW_ARTIFACTORY_ENDPOINT_URL", f"https://127.0.0.1:{server.port}/artifactory"
            )
            found.append(_message(lambda: repo("artifactory://exp/run").list_artifacts()))

    # Faults that outlast the retries, and what they leave behind.
    broken = repo("artifactory://exp/broken")
    broken.log_artifact(str(_write(tmp_path / "b.bin", b"b" * 4000)))
    caplog.set_level(logging.WARNING, logger="jfrog_mlflow")
    with plugin_env.faults({"operation": "download", "truncate_after": 10}):
        found.append(_message(lambda: broken.download_artifacts("b.bin", str(tmp_path))))
    with plugin_env.faults({"operation": "file_list", "truncate_after": 10}):
        found.append(_message(lambda: broken.list_artifacts()))
    with plugin_env.faults({"operation": "file_list", "reset": "before"}):
        found.append(_message(lambda: broken.list_artifacts()))
    with plugin_env.faults({"operation": "download", "status": 503}):
        found.append(_message(lambda: broken.download_artifacts("", str(tmp_path))))
    with plugin_env.faults({"method": "PUT", "path": "*/bad/*", "status": 503}):
        _write(tmp_path / "mixed" / "bad" / "x.txt")
        _write(tmp_path / "mixed" / "good.txt")
        found.append(_message(lambda: broken.log_artifacts(str(tmp_path / "mixed"))))
    found += [r.getMessage() for r in caplog.records if r.name == "jfrog_mlflow.retry"][:1]

    # Bytes damaged on the way (a proxy alters them), checksums refused by the server.
    rules = Proxy()
    context = plugin_env.url[len(plugin_env.root_url) :]
    with serve_proxy(plugin_env.root_url, rules) as proxy, monkeypatch.context() as m:
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", proxy + context)
        proxied = repo("artifactory://exp/damaged")
        rules.mutate = lambda method, path, body: (
            bytes([body[0] ^ 1]) + body[1:] if method == "GET" and "/api/" not in path else None
        )
        proxied.log_artifact(str(_write(tmp_path / "d.bin", b"d" * 3000)))
        found.append(_message(lambda: proxied.download_artifacts("d.bin", str(tmp_path))))
        rules.mutate = lambda method, path, body: None
        rules.rewrite = lambda method, path, headers: (
            {**headers, "X-Checksum-Sha1": "0" * 40} if method == "PUT" else headers
        )
        found.append(_message(lambda: proxied.log_artifact(str(local))))

    with serve_wsgi(_lying_server) as liar, monkeypatch.context() as m:
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", f"{liar}/artifactory")
        stream = io.BytesIO(b"streamed bytes")
        found.append(
            _message(lambda: repo("artifactory://exp/run").log_artifact_from_stream(stream, "s"))
        )

    # Properties refused (the user may deploy but not annotate): only a warning.
    with monkeypatch.context() as m:
        m.delenv("MLFLOW_ARTIFACTORY_TOKEN")
        m.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", no_annotate_server.url)
        m.setenv("MLFLOW_ARTIFACTORY_USER", "writer")
        m.setenv("MLFLOW_ARTIFACTORY_PASSWORD", "writerpw")
        for i in range(10):
            _write(tmp_path / "tagged" / f"f{i}.txt")
        caplog.clear()
        repo(f"artifactory://exp/1/{RUN}/artifacts").log_artifacts(str(tmp_path / "tagged"))
        found += [r.getMessage() for r in caplog.records if r.name == "jfrog_mlflow.tree_upload"]
    return found


def test_the_troubleshooting_table_and_the_messages_agree(messages: list[str]) -> None:
    """Every documented pattern matches a message the code printed here, and every
    message printed here matches a documented pattern."""
    spans = [span for row in documented() for span in row]
    missing = [span for span in spans if not any(matches(span, m) for m in messages)]
    assert missing == [], "\n".join(["documented but never produced:", *missing, "", *messages])
    undocumented = [m for m in messages if not any(matches(span, m) for span in spans)]
    assert undocumented == [], "\n\n".join(undocumented)
