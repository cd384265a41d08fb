"""Durability policy (``--fsync``), the fast JSON printer and the in-memory caches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_artifactory.config import EmulatorConfig
from fake_artifactory.core.records import RepoRecord
from fake_artifactory.core.serializers import _drop_none, to_json
from fake_artifactory.store import Store
from fake_artifactory.store.blobs import Durability
from fake_artifactory.testing import start_process

AUTH = ("admin", "password")


@pytest.mark.parametrize(
    ("policy", "ephemeral", "files", "dirs", "sync"),
    [
        ("auto", True, False, False, "OFF"),
        ("auto", False, True, False, "NORMAL"),
        ("never", False, False, False, "OFF"),
        ("blobs", True, True, False, "NORMAL"),
        ("always", False, True, True, "FULL"),
    ],
)
def test_durability_policies(
    policy: str, ephemeral: bool, files: bool, dirs: bool, sync: str
) -> None:
    d = Durability.resolve(policy, ephemeral=ephemeral)
    assert (d.fsync_files, d.fsync_dirs, d.synchronous) == (files, dirs, sync)


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="fsync"):
        Durability.resolve("sometimes", ephemeral=True)


def test_fsync_option_parses() -> None:
    assert EmulatorConfig.from_args(["--fsync", "always"]).fsync == "always"
    assert EmulatorConfig.from_args([]).fsync == "auto"


@pytest.mark.parametrize("policy", ["never", "always"])
def test_store_round_trip_under_each_policy(tmp_path: Path, policy: str) -> None:
    store = Store(tmp_path / "d", repos=["r"], fsync=policy)
    try:
        assert store.durability.policy == policy
        item = store.commit_file("r", "a/b.txt", store.stage_upload([b"hello"]), user="admin")
        with store.open_blob(item.sha256 or "") as fh:
            assert fh.read() == b"hello"
        mode = store.db.conn().execute("PRAGMA synchronous").fetchone()[0]
        assert mode == {"never": 0, "always": 2}[policy]
    finally:
        store.close()


@pytest.mark.timeout(120)
def test_acknowledged_deploy_survives_kill_9_without_fsync(tmp_path: Path) -> None:
    """kill -9 is a process crash: page-cache writes survive it even with --fsync never."""
    data = tmp_path / "data"
    emu = start_process("--fsync", "never", data_dir=data)
    try:
        for i in range(20):
            resp = requests.put(
                f"{emu.url}/example-repo-local/k/{i}.bin", data=b"x%d" % i, auth=AUTH, timeout=30
            )
            assert resp.status_code == 201
    finally:
        emu.kill()
    emu = start_process(data_dir=data)
    try:
        for i in range(20):
            resp = requests.get(f"{emu.url}/example-repo-local/k/{i}.bin", auth=AUTH, timeout=30)
            assert resp.status_code == 200 and resp.content == b"x%d" % i
    finally:
        emu.stop()


def test_failed_commit_leaves_no_orphan_blob(tmp_path: Path) -> None:
    store = Store(tmp_path / "d", repos=["r"])
    try:
        store.commit_file("r", "f", store.stage_upload([b"file"]), user="admin")
        with pytest.raises(Exception, match="folder"):
            store.commit_file("r", "f/child", store.stage_upload([b"orphan"]), user="admin")
        blobs = [p for p in store.blob_dir.rglob("*") if p.is_file()]
        assert len(blobs) == 1
        assert not list(store.tmp_dir.iterdir())
    finally:
        store.close()


def test_repo_cache_follows_create_delete_and_reset(tmp_path: Path) -> None:
    store = Store(tmp_path / "d", repos=["r"])
    try:
        assert store.has_repo("r") and not store.has_repo("new")
        store.create_repo(RepoRecord("new"))
        assert store.has_repo("new")
        store.update_repo(RepoRecord("new", description="described", config={"notes": "n"}))
        assert store.get_repo("new") == RepoRecord(
            "new", description="described", config={"notes": "n"}
        )
        store.delete_repo("new")
        assert not store.has_repo("new")
        store.create_repo(RepoRecord("again"))
        store.reset()
        assert [r.key for r in store.list_repos()] == ["r"]
    finally:
        store.close()


def test_token_cache_follows_revoke_and_reset(fake_artifactory: object) -> None:
    fa = fake_artifactory
    root = fa.root_url  # type: ignore[attr-defined]
    url = fa.url  # type: ignore[attr-defined]
    minted = requests.post(
        f"{root}/access/api/v1/tokens", auth=AUTH, data={"username": "admin"}, timeout=30
    ).json()
    bearer = {"Authorization": f"Bearer {minted['access_token']}"}
    ping = f"{url}/api/repositories"
    assert requests.get(ping, headers=bearer, timeout=30).status_code == 200
    requests.delete(
        f"{root}/access/api/v1/tokens/{minted['token_id']}", auth=AUTH, timeout=30
    ).raise_for_status()
    assert requests.get(ping, headers=bearer, timeout=30).status_code == 401
    minted = requests.post(
        f"{root}/access/api/v1/tokens", auth=AUTH, data={"username": "admin"}, timeout=30
    ).json()
    bearer = {"Authorization": f"Bearer {minted['access_token']}"}
    assert requests.get(ping, headers=bearer, timeout=30).status_code == 200
    requests.post(f"{root}/_fake/reset", timeout=30).raise_for_status()
    assert requests.get(ping, headers=bearer, timeout=30).status_code == 401


_SCALAR = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_TREE = st.recursive(
    _SCALAR,
    lambda inner: (
        st.lists(inner)
        | st.dictionaries(st.text(), inner)
        | st.dictionaries(st.integers(), inner)
        | st.tuples(inner, inner)
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_TREE)
def test_to_json_writes_the_same_json_as_the_standard_encoder(obj: object) -> None:
    r"""Whatever the layout, the text is the JSON ``json.dumps`` writes for the value, and
    no line ends in a space. Lines are split at ``\n`` only: strings may hold characters
    that ``str.splitlines`` also breaks at (``\x85``, ``\u2028``)."""
    text = to_json(obj)
    assert json.dumps(json.loads(text)) == json.dumps(_drop_none(obj))
    assert not any(line != line.rstrip(" \t") for line in text.split("\n"))
