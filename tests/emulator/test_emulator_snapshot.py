"""Snapshot export/import (control plane, CLI and ``serve --seed``) and what state at
rest holds: no usable secret, no admin rights from a snapshot."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
import tarfile

import requests
from emulator_support import REPO

from fake_artifactory.config import EmulatorConfig, UserSpec
from fake_artifactory.server import ThreadedServer
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


def _with_planted_tokens(archive: bytes, planted: dict[str, tuple[str, str]]) -> bytes:
    """``archive`` plus token records for tokens whose plain text the planter knows:
    ``{token: (username, scope)}``."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        members = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }
    manifest = json.loads(members["snapshot.json"])
    for i, (token, (username, scope)) in enumerate(planted.items()):
        manifest["tokens"].append(
            {
                "token_id": f"planted-{i}",
                "digest": hashlib.sha256(token.encode()).hexdigest(),
                "username": username,
                "scope": scope,
                "created": 0,
                "expires": 0,
                "description": "",
            }
        )
    members["snapshot.json"] = json.dumps(manifest).encode()
    return _tar(members)


def test_an_imported_snapshot_never_grants_admin(fake_artifactory, session, base, tmp_path):
    """A token that comes in with a snapshot keeps its user's other permissions but never
    admin, whoever it names (the configured admin included) and whatever its scope:
    no repository creation, no token minting, no control plane. That holds through the
    control plane and ``--seed`` alike; tokens minted after the import are unaffected."""
    session.put(f"{base}/{REPO}/seeded.txt", data=b"s")
    exported_admin = requests.post(
        f"{fake_artifactory.root_url}/access/api/v1/tokens",
        data={"scope": "applied-permissions/admin"},
        auth=fake_artifactory.auth,
    ).json()["access_token"]
    exported = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    archive = _with_planted_tokens(
        exported,
        {
            "planted-for-a-stranger": ("mallory", "applied-permissions/admin"),
            "planted-for-the-reader": ("reader", "applied-permissions/admin"),
            "planted-for-the-admin": ("admin", "applied-permissions/user"),
        },
    )
    seed = tmp_path / "planted.tar.gz"
    seed.write_bytes(archive)

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def may(url: str, root_url: str, token: str) -> dict[str, bool]:
        """What ``token`` may do on the emulator at ``url``."""
        headers = bearer(token)
        read = requests.get(f"{url}/{REPO}/seeded.txt", headers=headers)
        deploy = requests.put(f"{url}/{REPO}/by-{token[:12]}.txt", data=b"x", headers=headers)
        repo = requests.put(f"{url}/api/repositories/r-{token[:12]}", json={}, headers=headers)
        mint = requests.post(
            f"{root_url}/access/api/v1/tokens", data={"username": "other"}, headers=headers
        )
        return {
            "read": read.status_code == 200,
            "deploy": deploy.status_code == 201,
            "admin": repo.status_code == 200 and mint.status_code == 200,
        }

    def check(url: str, root_url: str, imported_admin: str | None) -> None:
        read_only = {"read": True, "deploy": False, "admin": False}
        assert may(url, root_url, "planted-for-a-stranger") == read_only
        assert may(url, root_url, "planted-for-the-reader") == read_only
        all_but_admin = {"read": True, "deploy": True, "admin": False}
        assert may(url, root_url, "planted-for-the-admin") == all_but_admin
        # nor can it mint itself a way back to admin
        minted_by_planted = requests.post(
            f"{root_url}/access/api/v1/tokens", headers=bearer("planted-for-the-admin")
        ).json()["access_token"]
        assert may(url, root_url, minted_by_planted) == all_but_admin
        if imported_admin is not None:
            assert may(url, root_url, imported_admin) == all_but_admin
        fresh = requests.post(
            f"{root_url}/access/api/v1/tokens",
            data={"scope": "applied-permissions/admin"},
            auth=("admin", "password"),
        ).json()["access_token"]
        assert may(url, root_url, fresh) == {"read": True, "deploy": True, "admin": True}

    resp = requests.post(f"{fake_artifactory.root_url}/_fake/snapshot", data=archive)
    assert resp.status_code == 200
    check(fake_artifactory.url, fake_artifactory.root_url, exported_admin)
    reexported = requests.get(f"{fake_artifactory.root_url}/_fake/snapshot").content
    imported = [t for t in _manifest(reexported)["tokens"] if t["token_id"].startswith("planted")]
    assert all(t["scope"].endswith("fake-artifactory/no-admin") for t in imported)
    config = EmulatorConfig(
        port=0, seed=seed, control_token="ctl", users=(UserSpec("admin", "password"),)
    )
    with ThreadedServer(config) as seeded:
        check(seeded.url, seeded.root_url, exported_admin)
        state = requests.get(
            f"{seeded.root_url}/_fake/state", headers=bearer("planted-for-the-admin")
        )
        assert state.status_code == 401


def _manifest(archive: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return json.loads(tar.extractfile("snapshot.json").read())  # type: ignore[union-attr]


def test_the_data_dir_holds_no_usable_secret(tmp_path):
    """Passwords, API keys, configured tokens and the control token are never written;
    a minted token is kept as its SHA-256 digest only; a new data dir is owner-only."""
    data = tmp_path / "data"
    secrets = ["s3cret-password", "AKCpkeyatrest", "configured-token-at-rest", "ctl-at-rest"]
    env = dict(os.environ, FAKE_ARTIFACTORY_CONTROL_TOKEN="ctl-at-rest")
    args = ["--user", "boss:s3cret-password:admin", "--api-key", "AKCpkeyatrest"]
    args += ["--token", "configured-token-at-rest"]
    with start_process(*args, data_dir=data, env=env) as proc:
        auth = ("boss", "s3cret-password")
        minted = requests.post(
            f"{proc.root_url}/access/api/v1/tokens",
            data={"scope": "applied-permissions/admin"},
            auth=auth,
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {minted}"}
        assert requests.put(f"{proc.url}/{REPO}/f.txt", data=b"f", headers=headers).ok
        assert requests.get(f"{proc.url}/{REPO}/f.txt", auth=auth).ok
        live = b"".join(p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file())
        proc.stop()
    at_rest = b"".join(p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file())
    for dump in (live, at_rest):
        for secret in [*secrets, minted]:
            assert secret.encode() not in dump
    assert hashlib.sha256(minted.encode()).hexdigest().encode() in live + at_rest
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
