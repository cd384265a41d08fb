"""Table tests for artifactory:// URI parsing and the host policy (pure), and the URI
rule against an emulator served at the root."""

from __future__ import annotations

import pytest
import requests
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import HostNotAllowed, InvalidArtifactUri
from jfrog_mlflow.uri import check_host_allowed, parse_artifact_uri

EP = "https://art.example.com/artifactory"
SHORT = PluginConfig(endpoint_url=EP, repo="ml-repo")
SHORT_NO_REPO = PluginConfig(endpoint_url=EP)
NONE = PluginConfig()
NO_SSL = PluginConfig(no_ssl=True)
HTTP_EP = PluginConfig(endpoint_url="http://127.0.0.1:8081/artifactory")
PROXIED = PluginConfig(endpoint_url="https://h.example.com/tools/art")


@pytest.mark.parametrize(
    ("uri", "config", "base", "repo", "path", "full"),
    [
        # short form, repo from MLFLOW_ARTIFACTORY_REPO (the seed's example)
        ("artifactory://mlflow-test/", SHORT, EP, "ml-repo", "mlflow-test", False),
        ("artifactory://mlflow-test", SHORT, EP, "ml-repo", "mlflow-test", False),
        (
            "artifactory://mlflow-test/1/abc/artifacts",
            SHORT,
            EP,
            "ml-repo",
            "mlflow-test/1/abc/artifacts",
            False,
        ),
        ("artifactory://a//b///c/", SHORT, EP, "ml-repo", "a/b/c", False),
        ("artifactory:///", SHORT, EP, "ml-repo", "", False),
        ("artifactory:/x/y", SHORT, EP, "ml-repo", "x/y", False),
        ("artifactory://we ird#?;%/x", SHORT, EP, "ml-repo", "we ird#?;%/x", False),
        # short form, repo is the first segment
        ("artifactory://mlflow-test/", SHORT_NO_REPO, EP, "mlflow-test", "", False),
        ("artifactory://repo1/a/b/", SHORT_NO_REPO, EP, "repo1", "a/b", False),
        # full form (JFrog plugin)
        (
            "artifactory://host.example.com/artifactory/r/a/b",
            NONE,
            "https://host.example.com/artifactory",
            "r",
            "a/b",
            True,
        ),
        (
            "artifactory://host.example.com:8082/artifactory/r/",
            NONE,
            "https://host.example.com:8082/artifactory",
            "r",
            "",
            True,
        ),
        (
            "artifactory://host:8081/artifactory/r/x/y/z/",
            NO_SSL,
            "http://host:8081/artifactory",
            "r",
            "x/y/z",
            True,
        ),
        (
            "artifactory://HOST.example.com/artifactory/r/p",
            SHORT,
            "https://host.example.com/artifactory",
            "r",
            "p",
            True,
        ),
        # the endpoint variable says http for that host
        (
            "artifactory://127.0.0.1:8081/artifactory/r/p",
            HTTP_EP,
            "http://127.0.0.1:8081/artifactory",
            "r",
            "p",
            True,
        ),
        # reverse-proxied instance at another context path, same host as the endpoint
        (
            "artifactory://h.example.com/tools/art/r/p",
            PROXIED,
            "https://h.example.com/tools/art",
            "r",
            "p",
            True,
        ),
        # models:/ and traces paths
        (
            "artifactory://h/artifactory/models/1/models/m-abc/artifacts",
            NONE,
            "https://h/artifactory",
            "models",
            "1/models/m-abc/artifacts",
            True,
        ),
    ],
)
def test_parse_artifact_uri(uri, config, base, repo, path, full):
    loc = parse_artifact_uri(uri, config)
    assert (loc.base_url, loc.repo, loc.path, loc.full_form) == (base, repo, path, full)


@pytest.mark.parametrize(
    ("uri", "config", "needle"),
    [
        ("s3://bucket/x", SHORT, "Not an artifactory"),
        ("artifactory://mlflow-test/", NONE, "MLFLOW_ARTIFACTORY_ENDPOINT_URL"),
        ("artifactory://h/artifactory/", NONE, "expected"),
        ("artifactory://h/artifactory", NONE, "expected"),
        ("artifactory://a/../b", SHORT, "'..'"),
        ("artifactory://a/./b", SHORT, "'.'"),
        ("artifactory:///", SHORT_NO_REPO, "MLFLOW_ARTIFACTORY_REPO"),
        ("artifactory://u:p@h/artifactory/r", NONE, "credentials"),
        ("artifactory://h:notaport/artifactory/r", NONE, "port"),
    ],
)
def test_parse_artifact_uri_rejects(uri, config, needle):
    with pytest.raises(InvalidArtifactUri, match=needle.replace("?", r"\?")):
        parse_artifact_uri(uri, config)


@pytest.mark.parametrize(
    ("uri", "config", "allowed"),
    [
        ("artifactory://evil:9/artifactory/r/x", NONE, True),  # JFrog-plugin drop-in: open
        ("artifactory://evil:9/artifactory/r/x", SHORT, False),
        ("artifactory://art.example.com/artifactory/r/x", SHORT, True),
        ("artifactory://art.example.com:443/artifactory/r/x", SHORT, True),
        ("artifactory://art.example.com:8443/artifactory/r/x", SHORT, False),
        ("artifactory://mlflow-test/", SHORT, True),
        ("artifactory://other:1/artifactory/r", PluginConfig(allowed_hosts=("other",)), True),
        ("artifactory://other:1/artifactory/r", PluginConfig(allowed_hosts=("other:1",)), True),
        ("artifactory://other:2/artifactory/r", PluginConfig(allowed_hosts=("other:1",)), False),
        ("artifactory://third/artifactory/r", PluginConfig(allowed_hosts=("other",)), False),
        ("artifactory://[::1]:8/artifactory/r", PluginConfig(allowed_hosts=("::1",)), True),
        ("artifactory://[::1]:8/artifactory/r", PluginConfig(allowed_hosts=("[::1]",)), True),
        ("artifactory://[::1]:8/artifactory/r", PluginConfig(allowed_hosts=("[::1]:8",)), True),
        ("artifactory://[::1]:9/artifactory/r", PluginConfig(allowed_hosts=("[::1]:8",)), False),
        ("artifactory://[::2]:8/artifactory/r", PluginConfig(allowed_hosts=("::1",)), False),
        (
            "artifactory://srv:8/artifactory/r/1/2",
            PluginConfig(
                no_ssl=True, server_artifact_destination="artifactory://srv:8/artifactory/r"
            ),
            True,
        ),
        (
            "artifactory://attacker:8/artifactory/r/1/2",
            PluginConfig(
                no_ssl=True, server_artifact_destination="artifactory://srv:8/artifactory/r"
            ),
            False,
        ),
    ],
)
def test_host_policy(uri, config, allowed):
    loc = parse_artifact_uri(uri, config)
    if allowed:
        check_host_allowed(loc, uri, config)
    else:
        with pytest.raises(HostNotAllowed, match="MLFLOW_ARTIFACTORY_ALLOWED_HOSTS"):
            check_host_allowed(loc, uri, config)


@pytest.mark.parametrize(
    "uri",
    ["artifactory://[::1:8082/artifactory/r/p", "artifactory://[not-ip]/artifactory/r/p"],
)
def test_a_malformed_host_is_an_invalid_uri_error(uri):
    """A host that does not parse (an unclosed or invalid IPv6 literal) is refused as an
    invalid URI naming the host, not as some later error."""
    with pytest.raises(InvalidArtifactUri, match="host"):
        parse_artifact_uri(uri, PluginConfig())


def test_full_form_on_an_endpoint_served_at_the_root(plugin_env, tmp_path, monkeypatch):
    """A URI is full form when its authority is the endpoint's host and port and its path
    starts with the endpoint's context path (docs/plugin.md). An instance served at the
    root (behind a reverse proxy) has an empty context path, so
    ``artifactory://host:port/repo/p`` names repository ``repo``, not a folder called
    ``host:port`` in MLFLOW_ARTIFACTORY_REPO."""
    from fake_artifactory.config import EmulatorConfig
    from fake_artifactory.server import ThreadedServer

    config = EmulatorConfig(port=0, tokens=("root-token",), context_path="", repos=("r1", "r2"))
    with ThreadedServer(config) as server:
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_ENDPOINT_URL", server.url)
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_REPO", "r1")
        monkeypatch.setenv("MLFLOW_ARTIFACTORY_TOKEN", "root-token")
        netloc = server.url.split("://", 1)[1]
        repo = get_artifact_repository(f"artifactory://{netloc}/r2/run")
        local = tmp_path / "n.txt"
        local.write_bytes(b"root")
        repo.log_artifact(str(local))
        aql = requests.post(
            f"{server.url}/api/search/aql",
            data='items.find({"name": "n.txt"}).include("repo", "path")',
            headers={"Authorization": "Bearer root-token", "Content-Type": "text/plain"},
            timeout=30,
        )
    assert [(r["repo"], r["path"]) for r in aql.json()["results"]] == [("r2", "run")]
