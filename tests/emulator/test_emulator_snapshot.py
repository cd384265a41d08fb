"""Snapshot export/import: control plane, CLI and ``serve --seed``."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import requests
from emulator_support import REPO

from fake_artifactory.testing import start_process


def _populate(session, base, repo_url) -> None:
    session.put(f"{repo_url}/snap/a.txt;team=ml;team=ops", data=b"alpha")
    session.put(f"{repo_url}/snap/same.txt", data=b"alpha")
    session.put(f"{repo_url}/snap/empty/")
    session.put(f"{base}/api/repositories/snap-local", json={"rclass": "local"})
    session.put(f"{base}/snap-local/b.bin", data=b"\x00\x01")


def test_export_then_import_round_trips_state(fake_artifactory, session, base, repo_url):
    _populate(session, base, repo_url)
    token = requests.post(
        f"{fake_artifactory.root_url}/access/api/v1/tokens",
        data={"expires_in": "0"},
        auth=fake_artifactory.auth,
    ).json()["access_token"]
    before = fake_artifactory.state()
    resp = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/gzip"
    archive = resp.content
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = tar.getnames()
    assert names[0] == "snapshot.json" and len(names) == 3  # two distinct contents
    assert token.encode() not in archive
    fake_artifactory.reset()
    assert session.get(f"{repo_url}/snap/a.txt").status_code == 404
    resp = requests.post(f"{fake_artifactory.root_url}/_fake/snapshot", data=archive)
    assert resp.status_code == 200 and resp.json()["status"] == "imported"
    assert fake_artifactory.state() == before
    assert session.get(f"{repo_url}/snap/a.txt").content == b"alpha"
    assert session.get(f"{base}/snap-local/b.bin").content == b"\x00\x01"
    props = session.get(f"{base}/api/storage/{REPO}/snap/a.txt?properties").json()
    assert props["properties"] == {"team": ["ml", "ops"]}
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{repo_url}/snap/a.txt", headers=auth).status_code == 200


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_bad_snapshots_are_400_and_change_nothing(fake_artifactory, session, repo_url):
    session.put(f"{repo_url}/keep.txt", data=b"keep")
    bad = [
        b"not a tarball",
        _tar({"../escape.txt": b"x"}),
        _tar({"blobs/" + "0" * 64: b"content that does not hash to zeros"}),
        _tar({"snapshot.json": b'{"format": 99}'}),
        _tar({"snapshot.json": b"[]"}),
        _tar({}),
    ]
    for archive in bad:
        resp = requests.post(f"{fake_artifactory.root_url}/_fake/snapshot", data=archive)
        assert resp.status_code == 400, archive[:40]
        assert resp.json()["errors"][0]["message"].startswith("Invalid snapshot")
    assert session.get(f"{repo_url}/keep.txt").content == b"keep"


def test_cli_export_import_and_seed(tmp_path):
    data, copy = tmp_path / "data", tmp_path / "copy"
    archive = tmp_path / "state.tar.gz"
    with start_process(data_dir=data) as proc:
        auth = ("admin", "password")
        assert requests.put(f"{proc.url}/{REPO}/cli/x.txt", data=b"x", auth=auth).status_code == 201
    cli = [sys.executable, "-m", "fake_artifactory"]
    out = subprocess.run(
        [*cli, "export", "--data-dir", str(data), str(archive)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("exported ")
    subprocess.run(
        [*cli, "import", "--data-dir", str(copy), str(archive)], capture_output=True, check=True
    )
    with start_process(data_dir=copy) as proc:
        assert requests.get(f"{proc.url}/{REPO}/cli/x.txt", auth=auth).content == b"x"
    with start_process("--seed", str(archive)) as proc:
        assert requests.get(f"{proc.url}/{REPO}/cli/x.txt", auth=auth).content == b"x"
    failed = subprocess.run(
        [*cli, "serve", "--port", "0", "--seed", str(tmp_path / "missing.tar.gz")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 2 and "seed" in failed.stderr
