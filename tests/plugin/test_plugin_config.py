"""PluginConfig parsing, precedence and secret hygiene (pure)."""

from __future__ import annotations

import pytest

from jfrog_mlflow.auth import ApiKeyAuth, BearerTokenAuth, auth_from_config, looks_like_jwt
from jfrog_mlflow.config import PluginConfig, parse_bool
from jfrog_mlflow.errors import ConfigurationError

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
