"""Pure parts of the conformance harness: paths, model, strategies, config, redaction."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given, settings

from conformance.config import EMULATOR_TOKEN, TargetConfig
from conformance.errors import ConformanceConfigError
from conformance.model import Entry, ParentIsFile, TreeModel
from conformance.paths import quote_path, relative_to
from conformance.redact import Redactor
from conformance.strategies import HAZARD_NAMES, is_valid_name, names, paths
from conformance.targets import make_run_id, parse_run_timestamp


@settings(max_examples=200)
@given(path=paths())
def test_quote_path_round_trips_and_hides_every_delimiter(path: str) -> None:
    quoted = quote_path(path)
    assert unquote(quoted) == path
    assert not set(";#?+ ") & set(quoted)
    assert quoted.count("/") == path.count("/")


@settings(max_examples=200)
@given(name=names())
def test_generated_names_are_valid(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize("name", HAZARD_NAMES)
def test_hazard_names_are_valid(name: str) -> None:
    assert is_valid_name(name)


@pytest.mark.parametrize("name", ["...", " x", "x ", "&", "a*b", "a|b", 'a"b', "a?b", "f.sha1"])
def test_invalid_names_are_recognised(name: str) -> None:
    assert not is_valid_name(name)


def test_model_creates_parents_and_deletes_subtrees() -> None:
    m = TreeModel.from_files({"a/b/c.txt": b"c", "a/d.txt": b"dd"}, ["e/f"])
    assert m.folders == {"", "a", "a/b", "e", "e/f"}
    assert m.children("a") == {"b": True, "d.txt": False}
    assert m.deep_list("a", depth=1) == {Entry("/b", True, -1), Entry("/d.txt", False, 2)}
    assert m.deep_list("", list_folders=False) == {
        Entry("/a/b/c.txt", False, 1),
        Entry("/a/d.txt", False, 2),
    }
    assert m.delete("a/b") and "a/b/c.txt" not in m.files and "a" in m.folders
    assert not m.delete("nope")
    with pytest.raises(ParentIsFile):
        m.deploy("a/d.txt/x", b"")
    assert m.parent_is_file("a/d.txt/x/y")


def test_relative_to() -> None:
    assert relative_to("a/b/c", "a") == "b/c"
    assert relative_to("a", "") == "a"
    with pytest.raises(ValueError):
        relative_to("ab/c", "a")


def test_options_win_over_environment_and_cli_credentials_replace_env_ones() -> None:
    env = {
        "ARTIFACTORY_CONFORMANCE_URL": "https://env.example/artifactory/",
        "ARTIFACTORY_CONFORMANCE_REPO": "env-repo",
        "ARTIFACTORY_CONFORMANCE_USER": "env-user",
        "ARTIFACTORY_CONFORMANCE_PASSWORD": "env-pass",
    }
    cfg = TargetConfig.from_options({"artifactory_token": "cli-token"}, env)
    assert cfg.url == "https://env.example/artifactory"
    assert cfg.repo == "env-repo"
    assert cfg.credentials.kind == "token" and cfg.credentials.user is None
    cfg = TargetConfig.from_options({"artifactory_repo": "cli-repo"}, env)
    assert cfg.repo == "cli-repo" and cfg.credentials.kind == "basic"
    assert "env-pass" not in repr(cfg)


def test_no_url_means_emulator_with_the_fixed_token() -> None:
    cfg = TargetConfig.from_options({}, {})
    assert cfg.is_emulator and cfg.credentials.token == EMULATOR_TOKEN


@pytest.mark.parametrize(
    "options",
    [
        {"artifactory_url": "https://u:p@host/artifactory"},
        {"artifactory_url": "ftp://host/artifactory"},
        {"artifactory_user": "admin"},
        {"artifactory_token": "t", "artifactory_api_key": "k"},
        {"conformance_prefix": "/"},
        {"conformance_max_requests": "-1"},
    ],
)
def test_bad_options_fail_before_any_request(options: dict[str, str]) -> None:
    with pytest.raises(ConformanceConfigError):
        TargetConfig.from_options(options, {})


def test_redactor_masks_secrets_and_their_basic_auth_form() -> None:
    r = Redactor(["s3cret"], user="admin")
    basic = base64.b64encode(b"admin:s3cret").decode()
    assert r.redact(f"token s3cret header Basic {basic}") == "token *** header Basic ***"
    assert "s3cret" not in repr(r)


def test_redactor_masks_credentials_it_was_not_told_about() -> None:
    r = Redactor()
    body = '{"token_id" : "id-1", "access_token" : "eyJ0eXAi.xyz", "Password": "p w"}'
    assert r.redact(body) == '{"token_id" : "id-1", "access_token" : "***", "Password": "***"}'
    assert r.redact("Authorization: Bearer abcdefgh12345") == "Authorization: Bearer ***"
    assert r.redact("basic auth is off") == "basic auth is off"


def test_run_ids_carry_a_parseable_utc_timestamp() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    run_id = make_run_id(now)
    assert parse_run_timestamp(run_id) == now
    assert parse_run_timestamp("keepme") is None


def test_checksum_policy_is_probed_and_gates_the_client_checksum_checks() -> None:
    from conformance.client import RestClient
    from conformance.config import Credentials
    from conformance.targets import Capabilities, probe
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    with ThreadedServer(EmulatorConfig(port=0, tokens=("probe-token",))) as srv:
        client = RestClient(srv.url, "example-repo-local", Credentials(token="probe-token"))
        caps = probe(client, "no-such-folder")
    assert caps.checksum_policy == "client-checksums" and caps.has("client_checksums")
    server_side = Capabilities("7.90.10", "pro", True, "server-generated-checksums")
    assert not server_side.has("client_checksums") and server_side.has("pro")
