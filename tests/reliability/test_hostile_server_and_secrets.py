"""The plugin against a hostile server, and its secrets: it never writes outside the
destination, never accepts a body that fails its checksum or size, never sends credentials
to another host, keeps secrets out of logs, errors, reprs and reports, and verifies TLS.

The hostile servers are small purpose-built Flask apps on 127.0.0.1 (port 0) that
speak just enough Artifactory: Folder Info, File List and file GET/PUT.  Each one
lies in one way: listings with ``..`` or absolute paths, bodies that do not match the
reported checksums or sizes, or redirects to another host (a second server on
127.0.0.2 that records every header it receives).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from mlflow.exceptions import MlflowException
from reliability_support import (
    ALL_SECRETS,
    API_KEY,
    PASSWORD,
    REPO,
    TOKEN,
    USER,
    make_tree,
    read_tree,
    record_figure,
    secrets_in,
    snapshot_dir,
    start_emulator,
)
from support.wsgi_server import serve_wsgi

pytestmark = pytest.mark.timeout(300)

AUTH_MODES = ["token", "key", "basic"]
MARKER = "relescapemarker"
WRONG_SECRET = "rel-wrong-secret-91c2e7"
FOLDER = "run"


# --- a tiny hostile Artifactory ---------------------------------------------------------


@dataclass
class Seen:
    method: str
    host: str
    path: str
    headers: dict[str, str]


@dataclass
class Entry:
    uri: str  # relative to FOLDER, with a leading "/", as the File List reports it
    body: bytes = b""
    folder: bool = False


@dataclass
class Behaviour:
    """How the hostile server lies. Defaults: an honest server."""

    entries: list[Entry]
    pro: bool = True
    #: (path relative to FOLDER) -> (body to send, headers to send)
    serve: Callable[[Entry], tuple[bytes, dict[str, str]]] | None = None
    redirect_to: str | None = None  # base URL of another host
    redirect_ops: frozenset[str] = frozenset()  # "download", "storage", "upload"
    seen: list[Seen] = field(default_factory=list)


def _sums(data: bytes) -> dict[str, str]:
    return {
        "X-Checksum-Sha1": hashlib.sha1(data).hexdigest(),
        "X-Checksum-Sha256": hashlib.sha256(data).hexdigest(),
        "X-Checksum-Md5": hashlib.md5(data).hexdigest(),
        "ETag": hashlib.sha1(data).hexdigest(),
    }


def _honest(entry: Entry) -> tuple[bytes, dict[str, str]]:
    return entry.body, _sums(entry.body)


def hostile_app(b: Behaviour) -> Flask:
    app = Flask("hostile-artifactory")

    def find(rel: str) -> Entry | None:
        for e in b.entries:
            if e.uri.lstrip("/") == rel:
                return e
        return None

    def redirect(op: str) -> Response | None:
        if b.redirect_to and op in b.redirect_ops:
            raw = request.environ.get("REQUEST_URI") or request.full_path
            status = 307 if request.method == "PUT" else 302
            return Response(status=status, headers={"Location": b.redirect_to + raw})
        return None

    @app.route("/<path:raw>", methods=["GET", "HEAD", "PUT", "DELETE"])
    def everything(raw: str) -> Response:
        b.seen.append(Seen(request.method, request.host, raw, dict(request.headers)))
        base = request.host_url.rstrip("/") + "/artifactory"
        if raw.startswith("artifactory/api/storage/"):
            if (r := redirect("storage")) is not None:
                return r
            rest = raw[len("artifactory/api/storage/") :].split("/", 1)
            rel = rest[1].strip("/") if len(rest) > 1 else ""
            if "list" in request.args:
                if not b.pro:
                    msg = "This REST API is available only in Artifactory Pro."
                    return Response(
                        json.dumps({"errors": [{"status": 400, "message": msg}]}),
                        status=400,
                        content_type="application/json",
                    )
                if rel != FOLDER:
                    return Response(status=404)
                files = []
                for e in b.entries:
                    item: dict[str, Any] = {
                        "uri": e.uri,
                        "size": -1 if e.folder else len(e.body),
                        "lastModified": "2026-01-01T00:00:00.000Z",
                        "folder": e.folder,
                    }
                    if not e.folder:
                        item["sha1"] = hashlib.sha1(e.body).hexdigest()
                        item["sha2"] = hashlib.sha256(e.body).hexdigest()
                    files.append(item)
                return Response(
                    json.dumps({"uri": f"{base}/api/storage/{REPO}/{rel}", "files": files}),
                    content_type="application/json",
                )
            if rel == FOLDER:
                children = [{"uri": e.uri, "folder": e.folder} for e in b.entries]
                body = {"repo": REPO, "path": f"/{rel}", "children": children}
                return Response(json.dumps(body), content_type="application/json")
            entry = find(rel[len(FOLDER) + 1 :]) if rel.startswith(FOLDER + "/") else None
            if entry is None:
                return Response(
                    json.dumps({"errors": [{"status": 404, "message": "Unable to find item"}]}),
                    status=404,
                    content_type="application/json",
                )
            info: dict[str, Any]
            if entry.folder:
                info = {"repo": REPO, "path": f"/{rel}", "children": []}
            else:
                info = {
                    "repo": REPO,
                    "path": f"/{rel}",
                    "size": str(len(entry.body)),
                    "checksums": {
                        "sha1": hashlib.sha1(entry.body).hexdigest(),
                        "sha256": hashlib.sha256(entry.body).hexdigest(),
                        "md5": hashlib.md5(entry.body).hexdigest(),
                    },
                }
            return Response(json.dumps(info), content_type="application/json")
        if request.method == "PUT":
            if (r := redirect("upload")) is not None:
                return r
            request.get_data()
            return Response(json.dumps({"repo": REPO, "path": "/x"}), status=201)
        if request.method == "DELETE":
            return Response(status=204)
        if (r := redirect("download")) is not None:
            return r
        prefix = f"artifactory/{REPO}/{FOLDER}/"
        entry = find(raw[len(prefix) :]) if raw.startswith(prefix) else None
        if entry is None or entry.folder:
            return Response(
                json.dumps({"errors": [{"status": 404, "message": "File not found."}]}),
                status=404,
                content_type="application/json",
            )
        data, headers = (b.serve or _honest)(entry)
        return Response(data, headers=headers, content_type="application/octet-stream")

    return app


def marker_files(root: Path, max_depth: int) -> list[str]:
    hits = []
    for dirpath, dirnames, filenames in os.walk(root):
        if len(Path(dirpath).relative_to(root).parts) >= max_depth - 1:
            dirnames[:] = []
        hits += [f"{dirpath}/{n}" for n in dirnames + filenames if MARKER in n]
    return hits


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
    "flipped byte, checksums of the original": lambda e: (_flip(e.body), _sums(e.body)),
    "short body, checksums of the original": lambda e: (e.body[:5000], _sums(e.body)),
    "extra bytes, checksums of the original": lambda e: (e.body + b"evil", _sums(e.body)),
    "right bytes, wrong reported checksum": lambda e: (e.body, _sums(b"something else")),
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


# --- secrets never leak -------------------------------------------------------------------


def _plugin_objects(root: Any) -> list[Any]:
    """``root`` and every object reachable from it whose class is ours (jfrog_mlflow)."""
    found: list[Any] = []
    seen: set[int] = set()
    stack = [(root, 0)]
    while stack:
        obj, depth = stack.pop()
        if id(obj) in seen or depth > 5:
            continue
        seen.add(id(obj))
        if type(obj).__module__.startswith("jfrog_mlflow"):
            found.append(obj)
        children: list[Any] = []
        if isinstance(obj, dict):
            children = list(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        elif type(obj).__module__.startswith(("jfrog_mlflow", "mlflow.store", "requests")):
            children = list(getattr(obj, "__dict__", {}).values())
            for slot in getattr(type(obj), "__slots__", ()):
                children.append(getattr(obj, slot, None))
        stack += [(c, depth + 1) for c in children]
    return found


def _exception_texts(exc: BaseException) -> list[str]:
    texts = []
    cur: BaseException | None = exc
    while cur is not None:
        texts += [str(cur), repr(cur)]
        cur = cur.__cause__ or cur.__context__
    return texts


@pytest.mark.parametrize("auth", AUTH_MODES)
def test_no_secret_in_logs_errors_reprs_or_journal(
    tmp_path: Path,
    configure_plugin: Any,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    auth: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    emu = start_emulator(
        tmp_path / "emu",
        "--api-key",
        API_KEY,
        "--user",
        f"{USER}:{PASSWORD}",
        "--log-level",
        "DEBUG",
        data_dir=tmp_path / "data",
    )
    texts: list[str] = []
    objects: list[Any] = []
    try:
        src = tmp_path / "src"
        make_tree(src, 12, seed=3)
        repo_for = configure_plugin(emu.url, auth=auth, MLFLOW_ARTIFACTORY_MAX_RETRIES="1")
        repo = repo_for(f"secrets-{auth}/run")
        repo.log_artifacts(str(src))
        repo.log_artifact(str(next(p for p in src.rglob("*") if p.is_file())), "single")
        repo.list_artifacts()
        (tmp_path / "dst").mkdir()
        (tmp_path / "x").mkdir()
        repo.download_artifacts("", dst_path=str(tmp_path / "dst"))
        objects += _plugin_objects(repo)
        failures: list[Callable[[], Any]] = [
            lambda: repo.download_artifacts("missing.bin", dst_path=str(tmp_path / "x")),
            lambda: repo.log_artifact(str(tmp_path / "does-not-exist.txt")),
        ]
        emu.add_faults({"method": "PUT", "status": 500, "message": "injected"})
        failures.append(lambda: repo.log_artifacts(str(src)))
        for fail in failures:
            with pytest.raises(Exception) as info:
                fail()
            texts += _exception_texts(info.value)
        emu.clear_faults()
        repo.delete_artifacts()
        # Wrong credentials: the rejected secret must not be echoed either.
        wrong = {
            "token": {"MLFLOW_ARTIFACTORY_TOKEN": WRONG_SECRET},
            "key": {"MLFLOW_ARTIFACTORY_KEY": WRONG_SECRET},
            "basic": {"MLFLOW_ARTIFACTORY_PASSWORD": WRONG_SECRET},
        }[auth]
        bad_repo = configure_plugin(emu.url, auth=auth, **wrong)(f"secrets-{auth}/run")
        with pytest.raises(MlflowException) as info:
            bad_repo.log_artifacts(str(src))
        texts += _exception_texts(info.value)
        objects += _plugin_objects(bad_repo)
        texts += [repr(o) for o in objects] + [str(o) for o in objects]
        journal = emu.journal_text()
    finally:
        emu.kill()
    out, err = capfd.readouterr()
    secrets = (*ALL_SECRETS, WRONG_SECRET)
    places = {
        "DEBUG logs": caplog.text,
        "stdout": out,
        "stderr": err,
        "exception messages": "\n".join(texts),
        "emulator journal": journal,
        "emulator log (DEBUG)": emu.stderr_text(),
    }
    leaks = {where: secrets_in(text, secrets) for where, text in places.items()}
    assert {k: v for k, v in leaks.items() if v} == {}
    assert len(objects) >= 2, "no plugin objects found to inspect"
    assert caplog.text, "nothing was logged at DEBUG; the search would prove nothing"
    record_figure(
        f"secrets_{auth}",
        places_searched=sorted(places),
        plugin_objects_repr_checked=len(objects),
        log_records=len(caplog.records),
        leaks=0,
    )


def test_no_secret_in_conformance_reports(tmp_path: Path) -> None:
    emu = start_emulator(tmp_path / "emu", data_dir=tmp_path / "data")
    outputs: list[str] = []
    try:
        for i, token in enumerate((TOKEN, WRONG_SECRET)):
            junit, report = tmp_path / f"junit{i}.xml", tmp_path / f"conf{i}.json"
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "conformance",
                    "--artifactory-url",
                    emu.url,
                    "--artifactory-token",
                    token,
                    f"--junitxml={junit}",
                    "--conformance-json",
                    str(report),
                    "-p",
                    "no:cacheprovider",
                    "-p",
                    "no:randomly",
                    "-x",
                    "-k",
                    "checksum_mismatch_is_409 or deploy_answers_201",
                    "-o",
                    "addopts=",
                ],
                capture_output=True,
                text=True,
                timeout=240,
                cwd=tmp_path,
            )
            outputs += [proc.stdout, proc.stderr]
            for f in (junit, report):
                if f.exists():
                    outputs.append(f.read_text())
            if token == TOKEN:
                assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]
                assert report.exists()
            else:
                assert proc.returncode != 0
        outputs.append(emu.journal_text())
    finally:
        emu.kill()
    leaks = [s for text in outputs for s in secrets_in(text, (TOKEN, WRONG_SECRET))]
    assert leaks == []


# --- HTTPS -------------------------------------------------------------------------------


def test_plugin_works_over_tls_with_requests_ca_bundle_and_fails_clearly_without(
    tmp_path: Path, configure_plugin: Any
) -> None:
    ca = tmp_path / "ca.pem"
    emu = start_emulator(tmp_path / "emu", "--tls-self-signed", str(ca), data_dir=tmp_path / "d")
    try:
        assert emu.url.startswith("https://")
        src = tmp_path / "src"
        files = make_tree(src, 8, seed=21)
        repo_for = configure_plugin(emu.url, REQUESTS_CA_BUNDLE=str(ca))
        repo = repo_for("tls/run")
        repo.log_artifacts(str(src))
        (tmp_path / "dst").mkdir()
        out = repo.download_artifacts("", dst_path=str(tmp_path / "dst"))
        assert read_tree(Path(out)) == files

        untrusted = configure_plugin(emu.url, MLFLOW_ARTIFACTORY_MAX_RETRIES="0")
        os.environ.pop("REQUESTS_CA_BUNDLE", None)
        with pytest.raises(MlflowException) as info:
            untrusted("tls/run").list_artifacts()
        message = str(info.value).lower()
        assert any(w in message for w in ("certificate", "ssl", "tls", "verify")), message
        assert emu.url.split("://", 1)[1].split("/", 1)[0] in str(info.value)
        assert secrets_in(str(info.value), ALL_SECRETS) == []
    finally:
        emu.kill()
    record_figure("tls", round_trip_files=len(files), untrusted_rejected=True)


def test_token_values_are_absent_from_plugin_config_repr(configure_plugin: Any) -> None:
    configure_plugin("http://127.0.0.1:9/artifactory", auth="basic")
    os.environ["MLFLOW_ARTIFACTORY_TOKEN"] = TOKEN
    os.environ["MLFLOW_ARTIFACTORY_KEY"] = API_KEY
    os.environ["ARTIFACTORY_AUTH_TOKEN"] = TOKEN
    try:
        from jfrog_mlflow.config import PluginConfig

        config = PluginConfig.from_env()
        assert secrets_in(repr(config) + str(config), ALL_SECRETS) == []
    finally:
        for name in (
            "MLFLOW_ARTIFACTORY_TOKEN",
            "MLFLOW_ARTIFACTORY_KEY",
            "ARTIFACTORY_AUTH_TOKEN",
        ):
            os.environ.pop(name, None)
