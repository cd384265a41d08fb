"""PluginConfig parsing, precedence and secret hygiene (pure), and the settings table
against the documentation."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from jfrog_mlflow.auth import ApiKeyAuth, BearerTokenAuth, auth_from_config, looks_like_jwt
from jfrog_mlflow.config import SETTINGS, PluginConfig, parse_bool, parse_mode
from jfrog_mlflow.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def test_defaults_need_no_tuning():
    c = PluginConfig.from_env({})
    assert c.endpoint_url is None and not c.has_credentials
    assert c.max_workers >= 1 and c.max_retries >= 1
    assert c.checksum_deploy_threshold == 1024 * 1024
    assert auth_from_config(c) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("Yes", True),
        ("false", False),
        ("0", False),
        ("NO", False),
        ("", False),
        (None, False),
    ],
)
def test_parse_bool(value, expected):
    assert parse_bool("X", value, False) is expected


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ARTIFACTORY_NO_SSL": "maybe"}, "ARTIFACTORY_NO_SSL"),
        ({"ARTIFACTORY_ARTIFACTS_DELETE_SKIP": "yep"}, "ARTIFACTORY_ARTIFACTS_DELETE_SKIP"),
        ({"MLFLOW_ARTIFACTORY_ENDPOINT_URL": "ftp://x"}, "MLFLOW_ARTIFACTORY_ENDPOINT_URL"),
        ({"MLFLOW_ARTIFACTORY_ENDPOINT_URL": "https://u:p@x/a"}, "MLFLOW_ARTIFACTORY_USER"),
        ({"MLFLOW_ARTIFACTORY_USER": "bob"}, "MLFLOW_ARTIFACTORY_PASSWORD"),
        ({"MLFLOW_ARTIFACTORY_PASSWORD": "pw"}, "MLFLOW_ARTIFACTORY_USER"),
        ({"MLFLOW_ARTIFACTORY_MAX_WORKERS": "many"}, "MLFLOW_ARTIFACTORY_MAX_WORKERS"),
        ({"MLFLOW_ARTIFACTORY_MAX_WORKERS": "0"}, "MLFLOW_ARTIFACTORY_MAX_WORKERS"),
        ({"MLFLOW_ARTIFACTORY_TIMEOUT": "-1"}, "MLFLOW_ARTIFACTORY_TIMEOUT"),
    ],
)
def test_bad_config_names_the_variable(env, needle):
    with pytest.raises(ConfigurationError, match=needle):
        PluginConfig.from_env(env)


def test_values_are_parsed():
    c = PluginConfig.from_env(
        {
            "MLFLOW_ARTIFACTORY_ENDPOINT_URL": "https://h/artifactory/",
            "MLFLOW_ARTIFACTORY_REPO": "r",
            "ARTIFACTORY_NO_SSL": "True",
            "ARTIFACTORY_ARTIFACTS_DELETE_SKIP": "1",
            "MLFLOW_ARTIFACTORY_ALLOWED_HOSTS": " A.example.com , b:8081,",
            "_MLFLOW_SERVER_ARTIFACT_DESTINATION": "artifactory://s/artifactory/r",
            "_MLFLOW_SERVER_ARTIFACT_ROOT": "mlflow-artifacts:/",
            "MLFLOW_ARTIFACTORY_MAX_RETRIES": "0",
            "MLFLOW_ARTIFACTORY_TIMEOUT": "2.5",
        }
    )
    assert c.endpoint_url == "https://h/artifactory"
    assert c.no_ssl and c.delete_skip and c.max_retries == 0 and c.read_timeout == 2.5
    assert c.allowed_hosts == ("a.example.com", "b:8081")
    assert c.server_artifact_uris == ("artifactory://s/artifactory/r",)


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({"MLFLOW_ARTIFACTORY_TOKEN": "t", "MLFLOW_ARTIFACTORY_KEY": "k"}, ("bearer", "t")),
        (
            {"MLFLOW_ARTIFACTORY_KEY": "AKCp8key", "ARTIFACTORY_AUTH_TOKEN": "c"},
            ("apikey", "AKCp8key"),
        ),
        ({"MLFLOW_ARTIFACTORY_KEY": JWT}, ("bearer", JWT)),
        (
            {
                "MLFLOW_ARTIFACTORY_USER": "u",
                "MLFLOW_ARTIFACTORY_PASSWORD": "p",
                "ARTIFACTORY_AUTH_TOKEN": "c",
            },
            ("basic", "u"),
        ),
        ({"ARTIFACTORY_AUTH_TOKEN": "c"}, ("bearer", "c")),
    ],
)
def test_credential_precedence(env, kind):
    auth = auth_from_config(PluginConfig.from_env(env))
    expected_kind, secret = kind
    if expected_kind == "bearer":
        assert auth == BearerTokenAuth(secret)
    elif expected_kind == "apikey":
        assert auth == ApiKeyAuth(secret)
    else:
        assert auth is not None and auth.username == secret  # type: ignore[attr-defined]


def test_jwt_detection():
    assert looks_like_jwt(JWT)
    assert looks_like_jwt("eyJsomething")
    assert not looks_like_jwt("AKCp8abcdef")
    assert not looks_like_jwt("cmVmdGtu:01:123:abc")


def test_secrets_absent_from_repr():
    secret = "s3cr3t-value"
    c = PluginConfig.from_env(
        {
            "MLFLOW_ARTIFACTORY_TOKEN": secret,
            "MLFLOW_ARTIFACTORY_KEY": secret + "k",
            "MLFLOW_ARTIFACTORY_USER": "u",
            "MLFLOW_ARTIFACTORY_PASSWORD": secret + "p",
            "ARTIFACTORY_AUTH_TOKEN": secret + "c",
        }
    )
    assert secret not in repr(c)
    assert secret not in repr(auth_from_config(c))
    assert secret not in repr(ApiKeyAuth(secret))


@pytest.mark.parametrize(
    "var", ["MLFLOW_ARTIFACTORY_BATCH_UPLOAD", "MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD"]
)
def test_mode_settings_accept_auto_or_off_in_any_case(var):
    field = {"MLFLOW_ARTIFACTORY_BATCH_UPLOAD": "batch_upload"}.get(var, "folder_download")
    assert getattr(PluginConfig.from_env({var: "OFF"}), field) is False
    assert getattr(PluginConfig.from_env({var: "auto"}), field) is True
    assert getattr(PluginConfig.from_env({}), field) is True
    with pytest.raises(ValueError, match=f"{var}: expected 'auto' or 'off'"):
        PluginConfig.from_env({var: "sometimes"})


def test_the_first_bad_variable_is_reported_in_table_order():
    """Half of Basic auth is checked first, then the rows in order, so the same
    environment always gives the same message."""
    with pytest.raises(ConfigurationError, match="MLFLOW_ARTIFACTORY_USER is set but"):
        PluginConfig.from_env(
            {"MLFLOW_ARTIFACTORY_USER": "bob", "MLFLOW_ARTIFACTORY_MAX_WORKERS": "x"}
        )
    with pytest.raises(ConfigurationError, match="ARTIFACTORY_NO_SSL"):
        PluginConfig.from_env({"MLFLOW_ARTIFACTORY_MAX_WORKERS": "x", "ARTIFACTORY_NO_SSL": "?"})


# ------------------------------------------------------------------ the settings table


def test_every_config_field_has_exactly_one_settings_row_with_its_default():
    """A field cannot be added without a row (name, parser, default, doc), nor a row
    without a field; the dataclass defaults are the rows' defaults."""
    fields = [f.name for f in dataclasses.fields(PluginConfig)]
    assert [s.field for s in SETTINGS] == fields
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    assert PluginConfig.from_env({}) == PluginConfig()
    for setting in SETTINGS:
        assert getattr(PluginConfig(), setting.field) == setting.default, setting.name
        assert setting.doc and "\n" not in setting.doc, setting.name


_SAMPLES = {
    parse_bool: ("yes", True),
    parse_mode: ("off", False),
}


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
def test_each_variable_fills_its_own_field(setting):
    """Setting the variable (to a valid value of its type) changes its field and only it."""
    if setting.parse in _SAMPLES:
        raw, value = _SAMPLES[setting.parse]
    elif isinstance(setting.default, bool):
        raise AssertionError(f"no sample for the parser of {setting.name}")
    elif isinstance(setting.default, int | float):
        raw, value = "7", type(setting.default)(7)
    elif setting.field == "endpoint_url":
        raw, value = "https://h.example/artifactory/", "https://h.example/artifactory"
    elif setting.field == "allowed_hosts":
        raw, value = "H:1, g", ("h:1", "g")
    elif setting.field == "properties":
        raw, value = " team=ml;stage=a\\,b,c ", (("team", ("ml",)), ("stage", ("a,b", "c")))
    elif setting.name.startswith("_MLFLOW_SERVER_"):
        raw, value = " artifactory://h/artifactory/r ", "artifactory://h/artifactory/r"
    else:
        raw, value = " text ", " text " if setting.field == "password" else "text"
    env = {setting.name: raw}
    if setting.field in ("user", "password"):  # Basic auth needs both
        env = {"MLFLOW_ARTIFACTORY_USER": "u", "MLFLOW_ARTIFACTORY_PASSWORD": "p", **env}
    config = PluginConfig.from_env(env)
    assert getattr(config, setting.field) == value
    changed = {
        f.name
        for f in dataclasses.fields(PluginConfig)
        if getattr(config, f.name) != getattr(PluginConfig(), f.name)
    }
    assert changed - {"user", "password"} <= {setting.field}


def _documented(path: Path) -> dict[str, str | None]:
    """Variable -> default of the ``| Variable | Default | Meaning |`` table in ``path``
    (``unset``/``empty`` read as no default; a row may name several variables)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index("| Variable | Default | Meaning |") + 2  # skip the separator row
    table: dict[str, str | None] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names_cell, default_cell = (cell.strip() for cell in line.split("|")[1:3])
        default = None if default_cell in ("unset", "empty") else default_cell.strip("`")
        for name in re.findall(r"`([A-Z_]+)`", names_cell):
            table[name] = default
    return table


@pytest.mark.parametrize("doc", ["README.md", "docs/plugin.md"])
def test_the_documented_variables_are_exactly_the_settings(doc):
    """README.md and docs/plugin.md list every user-facing variable with its default,
    and nothing else: a setting cannot be added without documenting it."""
    expected = {s.name: s.shown_default for s in SETTINGS if s.documented}
    assert _documented(ROOT / doc) == expected
