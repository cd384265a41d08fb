"""Telling a missing path from a missing repository or a wrong endpoint (built on the client).

Artifactory answers 404 for a path that does not exist, for a repository that does not
exist, and (like most web servers) for a URL outside its context path. MLflow expects an
empty listing and a no-op delete for a missing path, so a 404 or an empty answer alone
would hide a typo in ``MLFLOW_ARTIFACTORY_REPO`` or an endpoint without ``/artifactory``.
When an answer is ambiguous (an empty or missing listing, a delete of nothing, a 404 on a
download or an upload, a body that is not JSON), :func:`check_repository` asks:

1. Storage info of the repository root (``GET api/storage/<repo>``): a folder answer means
   the repository exists, which the client remembers, so this costs one request per client
   and repository, and none once a listing has shown the repository exists.
2. Only when that is a 404 or not JSON: System Ping (``GET api/system/ping``, which answers
   ``OK`` without credentials). ``OK`` means Artifactory is there and the repository is
   not (:class:`~jfrog_mlflow.errors.RepositoryNotFound`); anything else means the endpoint
   is not Artifactory's base URL (:class:`~jfrog_mlflow.errors.NotArtifactory`).

A missing repository is not remembered, so one created later is noticed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from jfrog_mlflow.client import ArtifactoryClient
from jfrog_mlflow.errors import NotArtifactory, RepositoryNotFound
from jfrog_mlflow.uri import ArtifactoryLocation
from jfrog_mlflow.urls import build_ping_url, build_storage_url

__all__ = ["check_repository", "suggested_base_url"]


def suggested_base_url(base_url: str) -> str:
    """The usual form of an Artifactory base URL on the host of ``base_url``."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/artifactory"


def _looks_like_folder(resp: requests.Response) -> bool:
    try:
        data = resp.json()
    except ValueError:
        return False
    return isinstance(data, dict) and ("children" in data or "repo" in data)


def _describe(resp: requests.Response) -> str:
    kind = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
    if "html" in kind:
        return f"HTTP {resp.status_code} with an HTML page"
    return f"HTTP {resp.status_code}"


def check_repository(client: ArtifactoryClient, location: ArtifactoryLocation) -> None:
    """Return when ``location.repo`` exists on the server; raise when it does not or when
    the endpoint does not answer like Artifactory (see the module docs).

    Raises:
        RepositoryNotFound: Artifactory answers; the repository does not exist.
        NotArtifactory: the endpoint is not an Artifactory base URL.
        AuthenticationFailed, PermissionDenied: the probe itself was refused.
    """
    repo = location.repo
    if client.repository_known(repo):
        return
    what = f"storage info of repository '{repo}'"
    storage = build_storage_url(client.base_url, repo, "")

    def probe() -> requests.Response:
        return client.request("GET", storage, what=what)

    resp = client.with_retries(what, probe)
    if resp.status_code == 200 and _looks_like_folder(resp):
        resp.close()
        client.learn_repository(repo)
        return
    if resp.status_code not in (200, 404):
        client.check(resp, what=what)  # raises: 401/403/5xx say more than any guess
    storage_answer = _describe(resp)
    resp.close()
    ping_url = build_ping_url(client.base_url)
    ping = client.with_retries(
        "ping", lambda: client.request("GET", ping_url, what="ping of the endpoint")
    )
    ping_answer = _describe(ping)
    pong = ping.status_code == 200 and ping.content.strip() == b"OK"
    ping.close()
    if pong and storage_answer == "HTTP 404":
        raise RepositoryNotFound(
            f"Artifactory repository '{repo}' does not exist at {client.base_url} "
            f"(the repository key comes from {location.repo_from}; the endpoint from "
            f"{location.endpoint_from}). Check the key, or create the repository",
            status_code=404,
            url=storage,
        )
    suggestion = suggested_base_url(client.base_url)
    if suggestion != client.base_url:
        hint = (
            "The base URL must include Artifactory's context path, usually "
            f"https://<host>/artifactory (here perhaps {suggestion})"
        )
    else:
        hint = (
            "Check the host and port: Artifactory's base URL is usually https://<host>/artifactory"
        )
    raise NotArtifactory(
        f"The endpoint {client.base_url} (from {location.endpoint_from}) does not answer "
        f"like Artifactory: GET {storage} answered {storage_answer}, GET {ping_url} "
        f"answered {ping_answer}. {hint}",
        url=ping_url,
    )
