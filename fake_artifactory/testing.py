"""Helpers to drive the emulator from tests and scripts (usable outside pytest).

* :func:`start_process` runs ``python -m fake_artifactory serve --port 0 ...`` as a
  real subprocess and waits for its ``READY`` line.
* :class:`FakeArtifactoryHandle` talks to a running emulator's control plane.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["EmulatorProcess", "EmulatorStartError", "FakeArtifactoryHandle", "start_process"]


class EmulatorStartError(RuntimeError):
    """The emulator process did not print READY in time."""


def _control(
    root_url: str, method: str, path: str, body: Any = None, timeout: float = 30
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(root_url + path, data=data, method=method)
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
    """What tests need to talk to an emulator: URLs, credentials and the control plane."""

    url: str
    root_url: str
    repo: str = "example-repo-local"
    user: str = "admin"
    password: str = field(default="password", repr=False)
    token: str = field(default="fake-test-token", repr=False)

    @property
    def auth(self) -> tuple[str, str]:
        """``(user, password)`` for ``requests``' ``auth=``."""
        return (self.user, self.password)

    def reset(self, repo: str | None = None) -> None:
        """Drop all state, or the content of one repository.

        A full reset also restores the folder download settings the emulator started with.
        """
        query = f"?repo={urllib.parse.quote(repo)}" if repo else ""
        _check(*_control(self.root_url, "POST", "/_fake/reset" + query), "reset")
        if not repo:
            path = "/_fake/settings/folder-download"
            _check(*_control(self.root_url, "DELETE", path), "restore folder download")

    def set_folder_download(self, **settings: Any) -> dict[str, Any]:
        """Change the folder download settings (``enabled``, ``max_files``,
        ``max_size_mb``, ``max_parallel``); returns them all."""
        body: dict[str, Any] = _check(
            *_control(self.root_url, "PUT", "/_fake/settings/folder-download", settings),
            "set folder download",
        )
        return body

    @contextlib.contextmanager
    def folder_download(self, **settings: Any) -> Iterator[dict[str, Any]]:
        """Folder download settings changed for the block (default: just enabled)."""
        before: dict[str, Any] = _check(
            *_control(self.root_url, "GET", "/_fake/settings/folder-download"),
            "folder download settings",
        )
        try:
            yield self.set_folder_download(**{"enabled": True, **settings})
        finally:
            self.set_folder_download(**before)

    def state(self) -> dict[str, Any]:
        """JSON dump of the tree (``{"repos": {key: {"items": {path: {...}}}}}``)."""
        body: dict[str, Any] = _check(*_control(self.root_url, "GET", "/_fake/state"), "state")
        return body

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = _check(*_control(self.root_url, "GET", "/_fake/health"), "health")
        return body

    def requests(self) -> list[dict[str, Any]]:
        """Journaled requests (needs the journal module)."""
        body = _check(*_control(self.root_url, "GET", "/_fake/requests"), "requests")
        entries: list[dict[str, Any]] = body.get("requests", []) if isinstance(body, dict) else []
        return entries

    def clear_requests(self) -> None:
        _check(*_control(self.root_url, "DELETE", "/_fake/requests"), "clear_requests")

    @contextlib.contextmanager
    def faults(self, *rules: Mapping[str, Any]) -> Iterator[list[str]]:
        """Install fault rules for the duration of the block; yields their ids."""
        body = _check(
            *_control(self.root_url, "POST", "/_fake/faults", [dict(r) for r in rules]), "faults"
        )
        ids: list[str] = list(body.get("ids", [])) if isinstance(body, dict) else []
        try:
            yield ids
        finally:
            for rule_id in ids:
                _control(self.root_url, "DELETE", f"/_fake/faults/{rule_id}")


class EmulatorProcess:
    """A ``fake_artifactory serve`` subprocess; stop with SIGTERM or kill with SIGKILL."""

    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url
        self.root_url = url.rsplit("/", 1)[0] if url.count("/") > 2 else url

    @property
    def pid(self) -> int:
        return self.proc.pid

    def handle(self, **kwargs: Any) -> FakeArtifactoryHandle:
        return FakeArtifactoryHandle(url=self.url, root_url=self.root_url, **kwargs)

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._close_pipes()

    def kill(self) -> int:
        """SIGKILL (simulates a crash) and wait."""
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            return self.proc.wait(timeout=30)
        finally:
            self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.stop()


def start_process(
    *args: str,
    data_dir: str | os.PathLike[str] | None = None,
    timeout: float = 30,
    log_file: str | os.PathLike[str] | None = None,
    port: int = 0,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> EmulatorProcess:
    """Run ``python -m fake_artifactory serve --port PORT [args]`` and wait for READY.

    ``log_file``: append the emulator's stderr (its log) there instead of discarding it.
    ``port``: 0 picks a free one; a fixed port lets a test restart on the same URL.
    ``env``/``cwd``: the child's environment (default: ours) and working directory.
    """
    cmd = [sys.executable, "-m", "fake_artifactory", "serve", "--port", str(port), *args]
    if data_dir is not None:
        cmd += ["--data-dir", str(Path(data_dir))]
    popen: dict[str, Any] = {"text": True, "bufsize": 1, "cwd": cwd, "env": env}
    if log_file is None:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, **popen)
    else:
        with open(log_file, "ab") as err:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, **popen)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(deadline - time.monotonic(), 0)):
                break
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("READY "):
                return EmulatorProcess(proc, line.split(" ", 1)[1].strip())
    proc.kill()
    proc.wait()
    where = f"; see {log_file}" if log_file is not None else ""
    raise EmulatorStartError(f"fake_artifactory did not become ready: {' '.join(cmd)}{where}")
