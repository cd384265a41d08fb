"""The plugin against a hostile server: it never writes outside the destination, never
accepts a body that fails its checksum or size, and never sends credentials to another
host (the servers are :mod:`hostile_server_support`'s)."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_server_support import (
    AUTH_MODES,
    FOLDER,
    MARKER,
    Behaviour,
    Entry,
    Seen,
    checksums_of,
    hostile_app,
    marker_files,
)
from mlflow.exceptions import MlflowException
from reliability_support import (
    ALL_SECRETS,
    REPO,
    make_tree,
    read_tree,
    secrets_in,
    snapshot_dir,
)
from support.wsgi_server import serve_wsgi

pytestmark = pytest.mark.timeout(300)


# --- hostile listings -------------------------------------------------------------------

HOSTILE_URIS = [
    f"/../{MARKER}-1.txt",
    f"/../../{MARKER}-2.txt",
    f"//tmp/{MARKER}-3.txt",
    f"/sub/../../{MARKER}-4.txt",
    f"/sub/../../../{MARKER}-5.txt",
    f"/./../{MARKER}-6.txt",
    f"/..\\..\\{MARKER}-7.txt",
    "/..",
    f"/{Path('/tmp').as_posix()}/{MARKER}-8.txt",
]


@pytest.mark.parametrize("edition", ["pro", "oss"])
@pytest.mark.parametrize("hostile_uri", HOSTILE_URIS)
def test_hostile_listing_cannot_write_outside_the_destination(
    tmp_path: Path, configure_plugin: Any, edition: str, hostile_uri: str
) -> None:
    entries = [Entry("/good.txt", b"good"), Entry(hostile_uri, f"{MARKER} pwned".encode())]
    behaviour = Behaviour(entries, pro=edition == "pro")
    work = tmp_path / "work"
    dst = work / "dst"
    dst.mkdir(parents=True)
    (work / "neighbour.txt").write_text("unchanged")
    before = snapshot_dir(tmp_path, exclude=dst)
    with serve_wsgi(hostile_app(behaviour)) as base:
        repo_for = configure_plugin(f"{base}/artifactory", MLFLOW_ARTIFACTORY_MAX_RETRIES="0")
        repo = repo_for(FOLDER)
        try:
            listed = repo.list_artifacts()
        except MlflowException:
            listed = []
        for info in listed:
            assert not info.path.startswith("/") and ".." not in info.path.split("/"), info
        with contextlib.suppress(MlflowException):  # refusing is fine; escaping is not
            repo.download_artifacts("", dst_path=str(dst))
    assert snapshot_dir(tmp_path, exclude=dst) == before, "a file was written outside dst"
    hits = marker_files(tmp_path.parent, max_depth=5) + marker_files(Path("/tmp"), max_depth=1)
    assert [h for h in hits if not h.startswith(str(dst))] == []
    for p in dst.rglob("*"):
        assert p.resolve().is_relative_to(dst.resolve()), p


# --- bodies that do not match what the server reports -----------------------------------

ORIGINAL = bytes(range(256)) * 64  # 16 KiB


def _flip(data: bytes) -> bytes:
    return data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]


CORRUPTIONS: dict[str, Callable[[Entry], tuple[bytes, dict[str, str]]]] = {
    "flipped byte, checksums of the original": lambda e: (_flip(e.body), checksums_of(e.body)),
    "short body, checksums of the original": lambda e: (e.body[:5000], checksums_of(e.body)),
    "extra bytes, checksums of the original": lambda e: (e.body + b"evil", checksums_of(e.body)),
    "right bytes, wrong reported checksum": lambda e: (e.body, checksums_of(b"something else")),
    "only sha1 reported, flipped byte": lambda e: (
        _flip(e.body),
        {"X-Checksum-Sha1": hashlib.sha1(e.body).hexdigest()},
    ),
    "no checksum header, listing size and sha2 of the original": lambda e: (_flip(e.body), {}),
    "no checksum header, shorter than listed": lambda e: (e.body[:1000], {}),
}


@pytest.mark.parametrize("scope", ["tree", "file"])
@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupted_or_mis_sized_bodies_are_never_accepted(
    tmp_path: Path,
    configure_plugin: Any,
    corruption: str,
    scope: str,
) -> None:
    behaviour = Behaviour([Entry("/data.bin", ORIGINAL)], serve=CORRUPTIONS[corruption])
    dst = tmp_path / "dst"
    dst.mkdir()
    with serve_wsgi(hostile_app(behaviour)) as base:
        repo_for = configure_plugin(f"{base}/artifactory", MLFLOW_ARTIFACTORY_MAX_RETRIES="1")
        repo = repo_for(FOLDER)
        with pytest.raises(MlflowException) as info:
            repo.download_artifacts("" if scope == "tree" else "data.bin", dst_path=str(dst))
    assert "data.bin" in str(info.value)
    assert [p.name for p in dst.rglob("*") if p.is_file()] == [], "a corrupted file was kept"


# --- redirects to another host ----------------------------------------------------------


def _credential_leaks(seen: list[Seen]) -> list[str]:
    leaks = []
    for s in seen:
        for name, value in s.headers.items():
            if name.lower() in ("authorization", "x-jfrog-art-api", "x-api-key", "cookie"):
                leaks.append(f"{s.method} {s.path}: header {name}")
            if secrets_in(value, ALL_SECRETS):
                leaks.append(f"{s.method} {s.path}: secret in {name}")
    return leaks


@pytest.mark.parametrize("auth", AUTH_MODES)
@pytest.mark.parametrize("op", ["download", "storage", "upload"])
def test_redirect_to_another_host_never_carries_credentials(
    tmp_path: Path, configure_plugin: Any, auth: str, op: str
) -> None:
    other = Behaviour([Entry("/data.bin", ORIGINAL)])
    main = Behaviour([Entry("/data.bin", ORIGINAL)], redirect_ops=frozenset({op}))
    src = tmp_path / "src"
    make_tree(src, 3, seed=5)
    with serve_wsgi(hostile_app(other), host="127.0.0.2") as other_base:
        main.redirect_to = other_base
        with serve_wsgi(hostile_app(main)) as base:
            repo_for = configure_plugin(
                f"{base}/artifactory", auth=auth, MLFLOW_ARTIFACTORY_MAX_RETRIES="0"
            )
            repo = repo_for(FOLDER)
            (tmp_path / "dst").mkdir()
            with contextlib.suppress(MlflowException):
                if op == "upload":
                    repo.log_artifacts(str(src))
                else:
                    repo.download_artifacts("", dst_path=str(tmp_path / "dst"))
    # Our own server saw our credentials (proves they were configured)...
    assert any(
        k.lower() in ("authorization", "x-jfrog-art-api") for s in main.seen for k in s.headers
    )
    # ...the other host never did.
    assert _credential_leaks(other.seen) == []
    dst_files = read_tree(tmp_path / "dst") if (tmp_path / "dst").exists() else {}
    assert dst_files in ({}, {"data.bin": ORIGINAL})


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_uri_naming_another_host_is_refused_before_any_request(
    configure_plugin: Any, auth: str
) -> None:
    other = Behaviour([Entry("/data.bin", ORIGINAL)])
    with serve_wsgi(hostile_app(other), host="127.0.0.2") as other_base:
        configure_plugin("http://127.0.0.1:9/artifactory", auth=auth)
        host = other_base.split("://", 1)[1]
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        with pytest.raises(MlflowException) as info:
            repo = get_artifact_repository(f"artifactory://{host}/artifactory/{REPO}/{FOLDER}")
            repo.list_artifacts()
        assert other.seen == []
        assert host.split(":")[0] in str(info.value)
