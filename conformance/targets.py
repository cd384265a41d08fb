"""The imperative shell: start or reach the target, preflight, probe, track and clean up.

Every item the suite creates lives below ``<repo>/<prefix>/<run-id>/``; the run id starts
with a UTC timestamp so ``--janitor`` can remove what crashed runs left behind.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from conformance.client import RestClient
from conformance.config import TargetConfig
from conformance.errors import TargetUnavailable
from conformance.paths import join

__all__ = [
    "Capabilities",
    "Target",
    "Workspace",
    "janitor",
    "make_run_id",
    "parse_run_timestamp",
    "preflight",
    "probe",
    "start_target",
]

log = logging.getLogger(__name__)

RUN_TS_FORMAT = "%Y%m%dT%H%M%SZ"
#: The whole shape of a run id made by `make_run_id`: only such folders are ever janitored.
RUN_ID_RE = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}-(?:main|gw\d+)")
PRO_ONLY_MARKER = "only in Artifactory Pro"
#: A local repository's default ``checksumPolicyType``.
DEFAULT_CHECKSUM_POLICY = "client-checksums"


def make_run_id(now: datetime | None = None) -> str:
    """``<utc-timestamp>-<random>-<worker>``; xdist workers share timestamp and random."""
    stamp = (now or datetime.now(timezone.utc)).strftime(RUN_TS_FORMAT)
    shared = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8].lower()
    if not re.fullmatch(r"[0-9a-f]{8}", shared):
        shared = secrets.token_hex(4)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{stamp}-{shared}-{worker}"


def parse_run_timestamp(run_id: str) -> datetime | None:
    """The creation time encoded in a run id, or None if it is not one of ours.

    The whole name must have the shape `make_run_id` gives (timestamp, 8 hex digits, worker),
    so a folder someone else named ``20240101T000000Z-notes`` is never taken for a run.
    """
    if not RUN_ID_RE.fullmatch(run_id):
        return None
    try:
        return datetime.strptime(run_id.split("-", 1)[0], RUN_TS_FORMAT).replace(
            tzinfo=timezone.utc
        )
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the target supports, probed once per session."""

    version: str = "unknown"
    edition: str = "unknown"
    deep_list: bool = False
    #: The repository's ``checksumPolicyType``; when unreadable, the default of a local
    #: repository (``client-checksums``) is assumed.
    checksum_policy: str = DEFAULT_CHECKSUM_POLICY

    def has(self, name: str) -> bool:
        """True when the named capability (``pro``, ``deep_list``, ``client_checksums``:
        the repository verifies the checksums a client sends) is present."""
        return {
            "pro": self.edition == "pro",
            "deep_list": self.deep_list,
            "client_checksums": self.checksum_policy != "server-generated-checksums",
        }.get(name, False)


@dataclass
class Target:
    """A reachable Artifactory plus how to stop it."""

    config: TargetConfig
    client: RestClient
    kind: str  # "emulator" or "remote"
    server: Any = None

    @property
    def display_url(self) -> str:
        """URL without credentials (they are never in it anyway)."""
        return self.client.base_url

    @property
    def control_headers(self) -> dict[str, str]:
        """Headers for the bundled emulator's control plane (``/_fake/``): its control
        token when it enforces one, else none."""
        token = self.server.config.control_token if self.server is not None else None
        return {"Authorization": f"Bearer {token}"} if token else {}

    def stop(self) -> None:
        """Stop the bundled emulator, if any."""
        if self.server is not None:
            self.server.stop()
            self.server = None


def start_target(config: TargetConfig) -> Target:
    """Start the bundled emulator when no URL is given, else point at the URL."""
    verify: str | bool = config.ca_bundle or True
    if config.url is not None:
        client = RestClient(config.url, config.repo, config.credentials, verify=verify)
        client.max_requests = config.max_requests
        return Target(config, client, "remote")
    try:
        # Imported lazily: a remote target must not need the emulator's dependencies.
        emulator_config = importlib.import_module("fake_artifactory.config")
        emulator_server = importlib.import_module("fake_artifactory.server")
    except ImportError as exc:
        raise TargetUnavailable(
            f"no --artifactory-url given and the bundled emulator cannot be imported ({exc})"
        ) from exc
    token = config.credentials.token
    emu_config = emulator_config.EmulatorConfig(
        port=0,
        tokens=(token,) if token else (),
        edition=config.emulator_edition,
    )
    server = emulator_server.ThreadedServer(emu_config)
    server.start()
    client = RestClient(server.url, config.repo, config.credentials, verify=verify)
    client.max_requests = config.max_requests
    return Target(config, client, "emulator", server)


def _fail(message: str) -> TargetUnavailable:
    return TargetUnavailable(message)


def preflight(target: Target) -> None:
    """Ping, credentials and repository; raise TargetUnavailable with one clear line."""
    client = target.client
    url = target.display_url
    try:
        ping = client.ping()
    except requests.exceptions.SSLError as exc:
        raise _fail(f"TLS error talking to {url} (set REQUESTS_CA_BUNDLE?): {exc}") from exc
    except requests.RequestException as exc:
        raise _fail(f"cannot reach Artifactory at {url}: {type(exc).__name__}") from exc
    if ping.status_code != 200:
        raise _fail(f"{url}/api/system/ping answered HTTP {ping.status_code}, expected 200")
    if target.config.credentials.kind == "anonymous":
        raise _fail(
            "no credentials: set --artifactory-token (or ARTIFACTORY_CONFORMANCE_TOKEN), "
            "--artifactory-user/--artifactory-password or --artifactory-api-key"
        )
    # Never the repository root: its folder info lists every top-level item, which on a
    # production repository with millions of items is slow or times out. The storage info
    # of the suite's own scratch parent (``--conformance-prefix``, whose children are only
    # run folders) proves the credentials and the repository just as well.
    prefix = target.config.prefix
    resp = client.info(prefix)
    if resp.status_code in (401, 403):
        raise _fail(
            f"credentials ({target.config.credentials.kind}) rejected by {url}: "
            f"HTTP {resp.status_code}"
        )
    if resp.status_code == 404:
        # The scratch parent does not exist yet (first run) or the repository is missing:
        # the repository's configuration tells them apart with one small answer.
        config = client.repository_config()
        if config.status_code in (400, 404):
            raise _fail(f"repository {client.repo!r} not found on {url} (set --artifactory-repo)")
        # Any other answer (e.g. 403: the credentials may not read configurations) is left
        # to the workspace: creating the run folder fails with one line if the repository
        # is missing or not writable.
        return
    if resp.status_code != 200:
        raise _fail(f"storage info of {client.repo}/{prefix} answered {resp.status_code}")


def probe(client: RestClient, folder: str) -> Capabilities:
    """Version, edition (the Pro-only 400 of ``?list``), deep listing and the repository's
    checksum policy (its configuration, when the credentials may read it)."""
    version = "unknown"
    resp = client.version()
    if resp.status_code == 200:
        with contextlib.suppress(ValueError):
            version = str(resp.json().get("version", "unknown")).strip()
    policy = DEFAULT_CHECKSUM_POLICY
    config = client.repository_config()
    if config.status_code == 200:
        with contextlib.suppress(ValueError, AttributeError):
            policy = str(config.json().get("checksumPolicyType") or policy)
    listing = client.file_list(folder, deep=True, list_folders=True)
    if listing.status_code == 200:
        return Capabilities(version, "pro", True, policy)
    if listing.status_code == 400 and PRO_ONLY_MARKER in listing.text:
        return Capabilities(version, "oss", False, policy)
    return Capabilities(version, "unknown", False, policy)


@dataclass
class Workspace:
    """The run's folder, unique per-test folders, and the record of what was created."""

    client: RestClient = field(repr=False)
    prefix: str
    run_id: str
    created: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def root(self) -> str:
        """``<prefix>/<run-id>`` (repository-relative)."""
        return join(self.prefix, self.run_id)

    def create_root(self) -> None:
        """Create the run folder, proving the deploy right (TargetUnavailable if refused)."""
        resp = self.client.mkdir(self.root)
        if resp.status_code in (401, 403):
            raise TargetUnavailable(
                f"not permitted to deploy to {self.client.repo}/{self.root}: "
                f"HTTP {resp.status_code}"
            )
        if resp.status_code != 201:
            raise TargetUnavailable(
                f"creating {self.client.repo}/{self.root}/ answered HTTP {resp.status_code}"
            )
        self.track(self.root)

    def track(self, path: str) -> None:
        """Remember a created item (removed at session end)."""
        with self._lock:
            self.created.append(path)

    def fresh(self, label: str = "t") -> str:
        """A new, unique, not yet existing folder path under the run folder (tracked)."""
        path = join(self.root, f"{label[:40]}-{uuid.uuid4().hex[:10]}")
        self.track(path)
        return path

    def cleanup(self) -> tuple[int, list[str]]:
        """Delete the run folder (then, on failure, each tracked item); (deleted, failures)."""
        self.client.max_requests = 0  # cleanup is never cut short by the request budget
        resp = self.client.delete(self.root)
        if resp.status_code in (204, 404):
            return len(self.created), []
        failures: list[str] = []
        for path in reversed(self.created):
            r = self.client.delete(path)
            if r.status_code not in (204, 404):
                failures.append(f"{path}: HTTP {r.status_code}")
        return len(self.created) - len(failures), failures


def janitor(client: RestClient, prefix: str, max_age: timedelta = timedelta(hours=24)) -> list[str]:
    """Delete run folders under ``prefix`` older than ``max_age``; return what was removed.

    Only the scratch parent ``prefix`` is listed (its children are run folders), never the
    repository root, which may hold millions of items on a shared server.
    """
    if not prefix.strip("/"):
        raise ValueError("the janitor needs a non-empty prefix: it never lists the repository root")
    resp = client.info(prefix)
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    removed: list[str] = []
    now = datetime.now(timezone.utc)
    for child in resp.json().get("children", []):
        name = str(child.get("uri", "")).lstrip("/")
        created = parse_run_timestamp(name)
        if child.get("folder") and created is not None and now - created > max_age:
            if client.delete(join(prefix, name)).status_code in (204, 404):
                removed.append(name)
    return removed
