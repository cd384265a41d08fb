"""The suite as it behaves against a remote server: janitor safety, report quality, M/L facts.

The emulator stands in for a shared production Artifactory: started as a real server on a
free port, and (through its fault rules) made to answer like real versions documented in
the reference where they differ from the emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conformance.client import RestClient
from conformance.config import Credentials
from conformance.targets import janitor, make_run_id
from fake_artifactory.config import EmulatorConfig
from fake_artifactory.server import ThreadedServer

TOKEN = "remote-self-test-token-0123456789"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadedServer]:
    with ThreadedServer(EmulatorConfig(port=0, tokens=(TOKEN,))) as srv:
        yield srv


def test_janitor_removes_only_old_run_folders_of_the_suite(server: ThreadedServer) -> None:
    client = RestClient(server.url, "example-repo-local", Credentials(token=TOKEN))
    prefix = "jan-" + make_run_id().split("-", 1)[1]
    old = make_run_id(datetime.now(timezone.utc) - timedelta(days=3))
    recent = make_run_id()
    # Old-looking names that the suite never makes (another team's folders, a file).
    foreign = [
        "20200101T000000Z-release-notes",
        "20200101T000000Z-deadbeef-gw1-backup",
        "20200101T000000Z",
    ]
    for name in (old, recent, *foreign):
        assert client.mkdir(f"{prefix}/{name}").status_code == 201
    assert client.deploy(f"{prefix}/20200101T000000Z-cafebabe-main.txt", b"f").status_code == 201

    removed = janitor(client, prefix)

    assert removed == [old]
    left = {str(c["uri"]).lstrip("/") for c in client.children(prefix)}
    assert left == {recent, *foreign, "20200101T000000Z-cafebabe-main.txt"}
    assert client.delete(prefix).status_code == 204


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


def test_a_failure_shows_what_was_sent_and_what_came_back(
    server: ThreadedServer, tmp_path: Path
) -> None:
    failing = tmp_path / "test_divergent.py"
    failing.write_text(
        "def test_missing_file_is_served(rest, area):\n"
        "    rest.deploy(area + '/present.txt', b'x')\n"
        "    r = rest.download(area + '/absent.txt')\n"
        "    assert r.status_code == 200\n"
    )
    out = tmp_path / "r.json"
    p = run(
        "-m", "pytest", "-p", "conformance.plugin", "-p", "no:cacheprovider", str(failing),
        "--artifactory-url", server.url, "--artifactory-token", TOKEN,
        "--conformance-json", str(out),
    )  # fmt: skip
    assert p.returncode == 1, p.stdout + p.stderr
    assert "conformance: last requests to the server" in p.stdout
    assert "/absent.txt -> 404 application/json" in p.stdout
    assert "File not found." in p.stdout
    assert "/present.txt -> 201" in p.stdout
    [row] = json.loads(out.read_text())
    assert "last request: GET " in row["reason"] and "absent.txt -> 404" in row["reason"]
    assert TOKEN not in p.stdout + p.stderr + out.read_text()


def test_invalid_names_refused_with_500_as_in_6_20_pass_and_are_observed(
    tmp_path: Path,
) -> None:
    # Artifactory 6.20 surfaced the path validator's refusal as HTTP 500 (reference 1.5).
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps(
            [
                {
                    "method": "PUT",
                    "path": "example-repo-local/*star*name*",
                    "status": 500,
                    "message": "Invalid path. '*' is not a valid name character",
                }
            ]
        )
    )
    out = tmp_path / "r.json"
    config = EmulatorConfig(port=0, tokens=(TOKEN,), faults_file=faults)
    with ThreadedServer(config) as srv:
        p = run(
            "-m", "conformance", "-q", "-p", "no:cacheprovider",
            "-k", "invalid_names_are_rejected and star",
            "--artifactory-url", srv.url, "--artifactory-token", TOKEN,
            "--conformance-json", str(out),
        )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    rows = json.loads(out.read_text())
    assert len(rows) == 2 and {r["status"] for r in rows} == {"passed"}, rows
    assert {r["observed"]["rejected_status"] for r in rows} == {"500"}
