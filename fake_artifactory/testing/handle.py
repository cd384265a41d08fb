"""A handle on a running emulator: its URLs, credentials and control plane (stdlib only)."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeArtifactoryHandle", "control_headers"]


def control_headers(control_token: str | None) -> dict[str, str]:
    """The header a guarded control plane (``/_fake/``) asks for; ``{}`` when it is open."""
    return {"Authorization": f"Bearer {control_token}"} if control_token else {}


def _control(
    root_url: str,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 30,
    control_token: str | None = None,
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        root_url + path, data=data, method=method, headers=control_headers(control_token)
    )
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    if not raw:
        return status, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def _check(status: int, body: Any, what: str) -> Any:
    if status >= 400:
        raise RuntimeError(f"fake_artifactory control plane {what} failed: {status} {body}")
    return body


@dataclass
class FakeArtifactoryHandle:
    """What tests need to talk to an emulator: URLs, credentials and the control plane.

    ``control_token``: the emulator's control token (None when its control plane is
    open); every control-plane call of the handle sends it.
    """

    url: str
    root_url: str
    repo: str = "example-repo-local"
    user: str = "admin"
    password: str = field(default="password", repr=False)
    token: str = field(default="fake-test-token", repr=False)
    control_token: str | None = field(default=None, repr=False)

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers for your own control-plane requests (``{}`` when it is open)."""
        return control_headers(self.control_token)

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return _control(self.root_url, method, path, body, control_token=self.control_token)

    @property
    def auth(self) -> tuple[str, str]:
        """``(user, password)`` for ``requests``' ``auth=``."""
        return (self.user, self.password)

    def reset(self, repo: str | None = None) -> None:
        """Drop all state, or the content of one repository.

        A full reset also restores the folder download settings the emulator started with.
        """
        query = f"?repo={urllib.parse.quote(repo)}" if repo else ""
        _check(*self._call("POST", "/_fake/reset" + query), "reset")
        if not repo:
            path = "/_fake/settings/folder-download"
            _check(*self._call("DELETE", path), "restore folder download")

    def set_folder_download(self, **settings: Any) -> dict[str, Any]:
        """Change the folder download settings (``enabled``, ``max_files``,
        ``max_size_mb``, ``max_parallel``); returns them all."""
        body: dict[str, Any] = _check(
            *self._call("PUT", "/_fake/settings/folder-download", settings),
            "set folder download",
        )
        return body

    @contextlib.contextmanager
    def folder_download(self, **settings: Any) -> Iterator[dict[str, Any]]:
        """Folder download settings changed for the block (default: just enabled)."""
        before: dict[str, Any] = _check(
            *self._call("GET", "/_fake/settings/folder-download"),
            "folder download settings",
        )
        try:
            yield self.set_folder_download(**{"enabled": True, **settings})
        finally:
            self.set_folder_download(**before)

    def state(self) -> dict[str, Any]:
        """JSON dump of the tree (``{"repos": {key: {"items": {path: {...}}}}}``)."""
        body: dict[str, Any] = _check(*self._call("GET", "/_fake/state"), "state")
        return body

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = _check(*self._call("GET", "/_fake/health"), "health")
        return body

    def requests(self) -> list[dict[str, Any]]:
        """Journaled requests (needs the journal module)."""
        body = _check(*self._call("GET", "/_fake/requests"), "requests")
        entries: list[dict[str, Any]] = body.get("requests", []) if isinstance(body, dict) else []
        return entries

    def clear_requests(self) -> None:
        _check(*self._call("DELETE", "/_fake/requests"), "clear_requests")

    @contextlib.contextmanager
    def faults(self, *rules: Mapping[str, Any], seed: int | None = None) -> Iterator[list[str]]:
        """Install fault rules for the duration of the block; yields their ids. ``seed``
        first re-seeds the RNG behind the rules' ``probability``."""
        path = "/_fake/faults" if seed is None else f"/_fake/faults?seed={int(seed)}"
        body = _check(*self._call("POST", path, [dict(r) for r in rules]), "faults")
        ids: list[str] = list(body.get("ids", [])) if isinstance(body, dict) else []
        try:
            yield ids
        finally:
            for rule_id in ids:
                self._call("DELETE", f"/_fake/faults/{rule_id}")
