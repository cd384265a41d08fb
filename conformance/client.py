"""A deliberately small REST client for the conformance tests (plain ``requests``).

It adds no retries and follows no redirects, so every status the server sends reaches the
assertions untouched. Credentials live only in the session's headers, never in URLs.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import requests

from conformance.config import Credentials
from conformance.errors import ConformanceError
from conformance.paths import quote_path

__all__ = ["RestClient", "auth_headers", "error_envelope"]

log = logging.getLogger(__name__)

#: (connect, read) timeout for every request.
TIMEOUT = (10.0, 120.0)
#: How many recent exchanges a client keeps for failure reports, and how much of each body.
HISTORY = 8
SNIPPET = 300


def describe_exchange(
    method: str, url: str, resp: requests.Response, *, streamed: bool = False
) -> str:
    """``PUT <url> -> 409 application/json: <body snippet>`` (a streamed body is not read)."""
    line = f"{method} {url} -> {resp.status_code} {resp.headers.get('Content-Type', '')}".rstrip()
    if streamed:
        return line + " (streamed body)"
    body = resp.content[:SNIPPET]
    if not body:
        return line
    text = body.decode("utf-8", "replace")
    printable = sum(ch.isprintable() or ch in "\n\t" for ch in text)
    if printable < 0.9 * len(text):
        return f"{line}: <{len(resp.content)} bytes of binary>"
    more = "..." if len(resp.content) > SNIPPET else ""
    return f"{line}: {text!r}{more}"


def auth_headers(creds: Credentials) -> dict[str, str]:
    """The headers that carry ``creds`` (Bearer, Basic or X-JFrog-Art-Api)."""
    if creds.token:
        return {"Authorization": f"Bearer {creds.token}"}
    if creds.user and creds.password:
        pair = base64.b64encode(f"{creds.user}:{creds.password}".encode()).decode("ascii")
        return {"Authorization": f"Basic {pair}"}
    if creds.api_key:
        return {"X-JFrog-Art-Api": creds.api_key}
    return {}


def error_envelope(resp: requests.Response) -> dict[str, Any]:
    """The single ``errors[0]`` element of an Artifactory error body (asserting its shape)."""
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    errors = body["errors"]
    assert isinstance(errors, list) and len(errors) == 1, body
    err = errors[0]
    assert isinstance(err, dict), body
    assert err.get("status") == resp.status_code, body
    assert isinstance(err.get("message"), str), body
    return err


class RestClient:
    """Requests against one repository of one Artifactory (``base_url`` ends in /artifactory)."""

    def __init__(
        self,
        base_url: str,
        repo: str,
        credentials: Credentials,
        *,
        verify: str | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.repo = repo
        self.credentials = credentials
        self._verify = verify
        self._local = threading.local()
        self.request_count = 0
        #: Fail requests beyond this many (0 = unlimited): bounds the load on a real server.
        self.max_requests = 0
        #: The last exchanges (shared with derived clients), shown when a test fails.
        self.history: deque[str] = deque(maxlen=HISTORY)

    def __repr__(self) -> str:
        return f"RestClient({self.base_url!r}, repo={self.repo!r}, auth={self.credentials.kind})"

    @property
    def session(self) -> requests.Session:
        """A per-thread session carrying the auth headers."""
        s: requests.Session | None = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers.update(auth_headers(self.credentials))
            s.verify = self._verify
            self._local.session = s
        return s

    def anonymous(self) -> RestClient:
        """The same target without credentials."""
        other = RestClient(self.base_url, self.repo, Credentials(), verify=self._verify)
        other.history = self.history
        return other

    def with_headers_only(self, headers: Mapping[str, str]) -> RestClient:
        """The same target authenticating with exactly ``headers`` (e.g. a bogus token)."""
        other = self.anonymous()
        other.session.headers.update(headers)
        return other

    # -- URLs ------------------------------------------------------------------------------
    def item_url(self, path: str, *, folder: bool = False) -> str:
        """Download/deploy URL of a repository path."""
        url = f"{self.base_url}/{quote_path(self.repo)}"
        if path:
            url += "/" + quote_path(path)
        return url + "/" if folder else url

    def storage_url(self, path: str) -> str:
        """Storage API URL of a repository path."""
        url = f"{self.base_url}/api/storage/{quote_path(self.repo)}"
        return url + "/" + quote_path(path) if path else url

    # -- requests --------------------------------------------------------------------------
    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request, no redirects followed, with the suite's timeout."""
        kwargs.setdefault("timeout", TIMEOUT)
        kwargs.setdefault("allow_redirects", False)
        self.request_count += 1
        if self.max_requests and self.request_count > self.max_requests:
            raise ConformanceError(
                f"request budget of {self.max_requests} exhausted (--conformance-max-requests)"
            )
        try:
            resp = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            self.history.append(f"{method} {url} -> {type(exc).__name__}")
            raise
        log.debug("%s %s -> %s", method, url, resp.status_code)
        streamed = bool(kwargs.get("stream"))
        self.history.append(describe_exchange(method, resp.url or url, resp, streamed=streamed))
        return resp

    def deploy(
        self, path: str, data: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> requests.Response:
        """``PUT`` a file."""
        return self.request("PUT", self.item_url(path), data=data, headers=dict(headers or {}))

    def mkdir(self, path: str) -> requests.Response:
        """``PUT`` a folder (trailing slash)."""
        return self.request("PUT", self.item_url(path, folder=True))

    def download(self, path: str, headers: Mapping[str, str] | None = None) -> requests.Response:
        """``GET`` an item."""
        return self.request("GET", self.item_url(path), headers=dict(headers or {}))

    def head(self, path: str) -> requests.Response:
        """``HEAD`` an item."""
        return self.request("HEAD", self.item_url(path))

    def delete(self, path: str) -> requests.Response:
        """``DELETE`` a file or folder."""
        return self.request("DELETE", self.item_url(path))

    def info(self, path: str) -> requests.Response:
        """Storage API item info (file or folder)."""
        return self.request("GET", self.storage_url(path))

    def file_list(
        self,
        path: str,
        *,
        deep: bool = True,
        depth: int | None = None,
        list_folders: bool = True,
        include_root: bool = False,
    ) -> requests.Response:
        """The Pro file list ``?list`` with its flags."""
        params: dict[str, str] = {
            "list": "",
            "deep": "1" if deep else "0",
            "listFolders": "1" if list_folders else "0",
        }
        if depth is not None:
            params["depth"] = str(depth)
        if include_root:
            params["includeRootPath"] = "1"
        return self.request("GET", self.storage_url(path), params=params)

    def ping(self) -> requests.Response:
        """``/api/system/ping`` without credentials."""
        return requests.get(
            f"{self.base_url}/api/system/ping", timeout=TIMEOUT, verify=self._verify
        )

    def version(self) -> requests.Response:
        """``/api/system/version``."""
        return self.request("GET", f"{self.base_url}/api/system/version")

    def repository_config(self) -> requests.Response:
        """``/api/repositories/{repo}`` (the repository's configuration)."""
        return self.request("GET", f"{self.base_url}/api/repositories/{quote(self.repo, safe='')}")

    def exists(self, path: str) -> bool:
        """True when the storage API knows the item."""
        resp = self.info(path)
        if resp.status_code not in (200, 404):
            resp.raise_for_status()
        return resp.status_code == 200

    def children(self, path: str) -> list[dict[str, Any]]:
        """Folder info ``children`` of a folder (asserting 200)."""
        resp = self.info(path)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        children = resp.json().get("children")
        assert isinstance(children, list), resp.text[:300]
        return children
