"""The repository through MLflow's registry against the emulator (real HTTP)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repo import StreamUploadMixin
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from jfrog_mlflow import ArtifactoryArtifactRepository

NASTY_NAMES = [
    "plain.txt",
    "with space.txt",
    "hash#x.txt",
    "semi;colon.txt",
    "pct%41.txt",
    "plus+sign.txt",
    "amp&eq=.txt",
    "at@colon:.txt",
    "ünïcødé-日本.txt",
    "x" * 200 + ".txt",
    ".hidden",
    "trailing.dot.",
    "quote'paren(1)[2]{3}$!~.txt",
]


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _infos(infos):
    return [(f.path, f.is_dir, f.file_size) for f in infos]


def test_registry_builds_our_class_without_network_io(make_repo, plugin_env, fresh_clients):
    plugin_env.clear_requests()
    repo = make_repo("artifactory://mlflow-test/")
    assert isinstance(repo, ArtifactoryArtifactRepository)
    assert isinstance(repo, StreamUploadMixin)
    assert plugin_env.requests() == []
    assert repo.list_artifacts() == []  # fresh repo, missing folder
    # The listing, and once per client the check that the repository itself exists.
    assert [r["method"] for r in plugin_env.requests()] == ["GET", "GET"]


def test_constructor_accepts_mlflow_keywords(plugin_env):
    repo = ArtifactoryArtifactRepository(
        "artifactory://x", tracking_uri="http://t", registry_uri="http://r", extra=1
    )
    assert repo.tracking_uri == "http://t" and repo.registry_uri == "http://r"


def test_config_errors_name_the_variable(plugin_env, monkeypatch):
    monkeypatch.setenv("ARTIFACTORY_NO_SSL", "perhaps")
    with pytest.raises(MlflowException, match="ARTIFACTORY_NO_SSL") as info:
        get_artifact_repository("artifactory://x")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    monkeypatch.delenv("ARTIFACTORY_NO_SSL")
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL")
    with pytest.raises(MlflowException, match="MLFLOW_ARTIFACTORY_ENDPOINT_URL"):
        get_artifact_repository("artifactory://mlflow-test/")


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_nasty_names_round_trip_byte_exactly(make_repo, tmp_path, name):
    repo = make_repo()
    data = name.encode() + b"\x00\xff payload"
    local = _write(tmp_path / "src" / name, data)
    repo.log_artifact(str(local), "dir")
    assert _infos(repo.list_artifacts("dir")) == [(f"dir/{name}", False, len(data))]
    out = repo.download_artifacts(f"dir/{name}", str(tmp_path))
    assert Path(out).read_bytes() == data


def test_deep_nesting_and_tree_round_trip(make_repo, tmp_path):
    repo = make_repo()
    src = tmp_path / "src"
    deep = "/".join(f"level{i}" for i in range(25))
    files = {
        "a.txt": b"a",
        f"{deep}/leaf#1.bin": os.urandom(100),
        "sp ace/semi;colon/x%y.txt": b"xy",
        "empty.txt": b"",
    }
    for rel, data in files.items():
        _write(src / rel, data)
    (src / "empty_dir").mkdir()
    repo.log_artifacts(str(src), "tree")
    dst = tmp_path / "dst"
    dst.mkdir()
    out = Path(repo.download_artifacts("tree", str(dst)))
    assert _tree(out) == files
    assert (out / "empty_dir").is_dir()


def test_listing_semantics_match_mlflow_builtins(make_repo, tmp_path):
    repo = make_repo()
    src = tmp_path / "src"
    _write(src / "a.txt", b"A")
    _write(src / "b.txt", b"B")
    _write(src / "nested" / "c.txt", b"C")
    _write(src / "nestedsibling.txt", b"S")
    repo.log_artifacts(str(src))
    assert _infos(repo.list_artifacts()) == [
        ("a.txt", False, 1),
        ("b.txt", False, 1),
        ("nested", True, None),
        ("nestedsibling.txt", False, 1),
    ]
    assert _infos(repo.list_artifacts("nested")) == [("nested/c.txt", False, 1)]
    assert _infos(repo.list_artifacts("nested/")) == [("nested/c.txt", False, 1)]
    assert repo.list_artifacts("a.txt") == []
    assert repo.list_artifacts("does/not/exist") == []
    assert repo._is_directory("nested") and not repo._is_directory("a.txt")
    assert not repo._is_directory("missing")


def test_log_artifact_semantics(make_repo, tmp_path):
    repo = make_repo()
    local = _write(tmp_path / "f.txt", b"1")
    repo.log_artifact(str(local))
    repo.log_artifact(str(local), "aaa/bbb/ccc/ddd")
    assert _infos(repo.list_artifacts("aaa/bbb/ccc/ddd")) == [("aaa/bbb/ccc/ddd/f.txt", False, 1)]
    for bad in ["/", "//", "/tmp", "/bad_path", ".", "../x"]:
        with pytest.raises(MlflowException, match="Invalid artifact path"):
            repo.log_artifact(str(local), bad)


def test_download_missing_file_raises_resource_does_not_exist(make_repo, tmp_path):
    repo = make_repo()
    with pytest.raises(MlflowException) as info:
        repo.download_artifacts("nope.txt", str(tmp_path))
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert list(tmp_path.iterdir()) == []


def test_download_root_and_empty_root(make_repo, tmp_path):
    repo = make_repo()
    empty_out = repo.download_artifacts("", str(tmp_path))
    assert os.listdir(empty_out) == []
    _write(tmp_path / "src" / "x" / "y.txt", b"y")
    repo.log_artifacts(str(tmp_path / "src"))
    dst = tmp_path / "dst"
    dst.mkdir()
    out = repo.download_artifacts("", str(dst))
    assert _tree(Path(out)) == {"x/y.txt": b"y"}


def test_delete_is_recursive_and_idempotent(make_repo, tmp_path):
    repo = make_repo()
    _write(tmp_path / "src" / "a.txt", b"a")
    _write(tmp_path / "src" / "nested" / "c.txt", b"c")
    repo.log_artifacts(str(tmp_path / "src"))
    repo.delete_artifacts("nested/c.txt")
    assert repo.list_artifacts("nested") == []
    repo.delete_artifacts("nested")
    repo.delete_artifacts("nested")  # missing: no-op
    assert _infos(repo.list_artifacts()) == [("a.txt", False, 1)]
    repo.delete_artifacts()
    repo.delete_artifacts()
    assert repo.list_artifacts() == []


def test_gc_on_never_logged_run_does_not_fail(make_repo):
    make_repo("artifactory://mlflow-test/1/never-logged/artifacts").delete_artifacts()


def test_delete_skip_is_honoured(make_repo, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("ARTIFACTORY_ARTIFACTS_DELETE_SKIP", "TRUE")
    repo = make_repo()
    repo.log_artifact(str(_write(tmp_path / "keep.txt", b"k")))
    with caplog.at_level(logging.WARNING, logger="jfrog_mlflow"):
        repo.delete_artifacts()
    assert "ARTIFACTORY_ARTIFACTS_DELETE_SKIP" in caplog.text
    assert _infos(repo.list_artifacts()) == [("keep.txt", False, 1)]


def test_unstorable_names_fail_before_any_upload(make_repo, plugin_env, tmp_path):
    repo = make_repo()
    _write(tmp_path / "src" / "good.txt", b"g")
    _write(tmp_path / "src" / "bad*name.txt", b"b")
    plugin_env.clear_requests()
    with pytest.raises(MlflowException, match=r"bad\*name\.txt") as info:
        repo.log_artifacts(str(tmp_path / "src"))
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert not [r for r in plugin_env.requests() if r["method"] == "PUT"]


def test_stream_upload(make_repo, tmp_path):
    repo = make_repo()
    data = os.urandom(3 * 1024 * 1024 + 17)
    repo.log_artifact_from_stream(io.BytesIO(data), "ignored/dir/s#1.bin", "streams")

    async def chunks():
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    asyncio.run(repo.log_artifact_from_async_stream(chunks(), "a s;ync.bin", "streams"))
    assert _infos(repo.list_artifacts("streams")) == [
        ("streams/a s;ync.bin", False, len(data)),
        ("streams/s#1.bin", False, len(data)),
    ]
    out = repo.download_artifacts("streams", str(tmp_path))
    assert _tree(Path(out)) == {"a s;ync.bin": data, "s#1.bin": data}


def test_async_stream_failure_propagates(make_repo):
    repo = make_repo()

    async def broken():
        yield b"abc"
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="client went away"):
        asyncio.run(repo.log_artifact_from_async_stream(broken(), "x.bin"))


def test_trace_data_round_trip(make_repo):
    repo = make_repo("artifactory://mlflow-test/1/traces/tr-1/artifacts")
    from mlflow.exceptions import MlflowTraceDataNotFound

    with pytest.raises(MlflowTraceDataNotFound):
        repo.download_trace_data()
    repo.upload_trace_data('{"spans": [{"name": "x"}]}')
    assert repo.download_trace_data() == {"spans": [{"name": "x"}]}


def test_host_allow_list_refuses_before_any_request(plugin_env):
    plugin_env.clear_requests()
    with pytest.raises(MlflowException, match="not a trusted") as info:
        get_artifact_repository("artifactory://attacker.example:1/artifactory/r/x")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert plugin_env.requests() == []


def test_full_form_uri_with_allowed_host(plugin_env, monkeypatch, tmp_path):
    host = plugin_env.url.split("/")[2]
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL")
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    monkeypatch.setenv("ARTIFACTORY_AUTH_TOKEN", plugin_env.token)
    monkeypatch.setenv("ARTIFACTORY_NO_SSL", "true")
    repo = get_artifact_repository(f"artifactory://{host}/artifactory/{plugin_env.repo}/full")
    repo.log_artifact(str(_write(tmp_path / "f.txt", b"full")))
    assert _infos(repo.list_artifacts()) == [("f.txt", False, 4)]


@pytest.mark.parametrize(
    ("env", "status"),
    [
        ({"MLFLOW_ARTIFACTORY_TOKEN": "wrong-token"}, 401),
        # A key refused through X-JFrog-Art-Api is a 403 "Bad credentials": still a
        # refused credential, not a missing permission.
        ({"MLFLOW_ARTIFACTORY_KEY": "wrong-api-key"}, 403),
    ],
)
def test_refused_credentials_are_authentication_failures_naming_the_variable(
    make_repo, monkeypatch, tmp_path, env, status
):
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    repo = make_repo()
    with pytest.raises(MlflowException) as info:
        repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
    assert info.value.error_code == "UNAUTHENTICATED"
    assert f"HTTP {status}: Bad credentials" in info.value.message
    (variable,) = env
    assert f"the credential in {variable} was refused" in info.value.message
    assert "f.txt" in info.value.message
    assert "wrong" not in info.value.message


def test_api_key_header_works(make_repo, plugin_env, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_KEY", plugin_env.token)
    repo = make_repo()
    plugin_env.clear_requests()
    repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
    assert len(repo.list_artifacts()) == 1
    sent = [r.get("headers", {}) for r in plugin_env.requests()]
    assert any("x-jfrog-art-api" in {k.lower() for k in h} for h in sent)


def test_netrc_is_the_fallback_credential(make_repo, plugin_env, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {plugin_env.user} password {plugin_env.password}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    repo = make_repo()
    repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
    assert len(repo.list_artifacts()) == 1


def test_anonymous_without_credentials_is_unauthenticated(make_repo, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    repo = make_repo()
    with pytest.raises(MlflowException) as info:
        repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
    assert info.value.error_code == "UNAUTHENTICATED"


def test_basic_auth_works(make_repo, plugin_env, monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_ARTIFACTORY_TOKEN")
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_USER", plugin_env.user)
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_PASSWORD", plugin_env.password)
    repo = make_repo()
    repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
    assert len(repo.list_artifacts()) == 1


def test_secrets_never_appear_in_logs_reprs_or_errors(make_repo, monkeypatch, tmp_path, caplog):
    secret = "sup3r-s3cret-t0ken"
    monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", secret)
    with caplog.at_level(logging.DEBUG):
        repo = make_repo()
        texts = [repr(repo), repr(repo._config), repr(repo.client)]
        with pytest.raises(MlflowException) as info:
            repo.log_artifact(str(_write(tmp_path / "f.txt", b"x")))
        texts.append(str(info.value))
        with pytest.raises(MlflowException) as info2:
            repo.download_artifacts("missing.txt", str(tmp_path))
        texts.append(str(info2.value))
    texts.append(caplog.text)
    assert caplog.text  # debug logging happened
    for text in texts:
        assert secret not in text


def test_hostile_listing_cannot_escape_destination(make_repo, tmp_path, monkeypatch):
    """A lying server (simulated at the listing boundary) lists '../' paths."""
    from jfrog_mlflow import listing
    from jfrog_mlflow.models import ListEntry

    repo = make_repo()
    monkeypatch.setattr(
        listing, "list_tree", lambda client, repo_key, path: [ListEntry("../../evil.txt", False, 1)]
    )
    monkeypatch.setattr(repo, "_is_directory", lambda p: True)
    with pytest.raises(MlflowException):
        repo.download_artifacts("d", str(tmp_path))
    assert not (tmp_path.parent / "evil.txt").exists()


def test_log_artifacts_of_empty_and_flat_directories(make_repo, tmp_path):
    repo = make_repo()
    (tmp_path / "empty").mkdir()
    repo.log_artifacts(str(tmp_path / "empty"), "e")
    assert repo.list_artifacts() == []
    _write(tmp_path / "flat" / "one.txt", b"1")
    repo.log_artifacts(str(tmp_path / "flat") + os.sep)
    assert _infos(repo.list_artifacts()) == [("one.txt", False, 1)]


def test_repositories_share_one_client_per_endpoint(make_repo):
    a, b = make_repo("artifactory://x/run1"), make_repo("artifactory://x/run2")
    assert a.client is b.client
