"""Emulator configuration: one frozen value object, built from defaults or CLI arguments.

Only this module parses user-supplied settings and reads the environment; everything
else receives an :class:`EmulatorConfig`.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PERMISSIONS: frozenset[str] = frozenset({"read", "deploy", "delete", "annotate", "admin"})
DEFAULT_REPO = "example-repo-local"
#: Environment variable holding the control token (``--control-token`` wins over it).
CONTROL_TOKEN_ENV = "FAKE_ARTIFACTORY_CONTROL_TOKEN"

Anonymous = Literal["off", "read", "write"]
Edition = Literal["pro", "oss"]
#: Which Pro-only message the OSS edition gives an explode deploy (see ``--oss-explode-message``).
ExplodeMessage = Literal["short", "long"]
#: What the store fsyncs (see :class:`fake_artifactory.store.blobs.Durability`).
Fsync = Literal["auto", "never", "blobs", "always"]


class ConfigurationError(ValueError):
    """A setting given to the emulator does not parse."""


@dataclass(frozen=True, slots=True)
class UserSpec:
    """One configured user. ``perms`` is a subset of :data:`PERMISSIONS`."""

    name: str
    password: str = field(repr=False)
    perms: frozenset[str] = PERMISSIONS

    def can(self, perm: str) -> bool:
        """True when the user holds ``perm`` (``admin`` implies everything)."""
        return "admin" in self.perms or perm in self.perms


DEFAULT_USERS: tuple[UserSpec, ...] = (UserSpec("admin", "password", PERMISSIONS),)


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Everything a running emulator needs to know.

    ``data_dir=None`` means an ephemeral temporary directory removed on stop.
    Tokens belong to the first admin user and work as Bearer, as a Basic password
    (any user name) and as ``X-JFrog-Art-Api``; API keys work as the latter two.
    """

    host: str = "127.0.0.1"
    port: int = 8081
    data_dir: Path | None = None
    repos: tuple[str, ...] = (DEFAULT_REPO,)
    users: tuple[UserSpec, ...] = DEFAULT_USERS
    tokens: tuple[str, ...] = field(default=(), repr=False)
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    anonymous: Anonymous = "off"
    edition: Edition = "pro"
    version: str = "7.90.10"
    context_path: str = "/artifactory"
    latency_ms: int = 0
    faults_file: Path | None = None
    #: Seed of the RNG behind fault rules' ``probability`` (``--fault-seed``).
    fault_seed: int = 0
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_self_signed_ca: Path | None = None
    #: Seconds a connection may stay silent (a stalled upload is abandoned after this).
    socket_timeout: int = 60
    #: Largest accepted request head (request line + headers), like Tomcat's limit.
    max_header_bytes: int = 65536
    server_id: str = "fake-artifactory-0001"
    #: ``X-Artifactory-Node-Id`` of a 7.x emulator (a real server sends its host name).
    node_id: str = "fake-artifactory-node"
    log_level: str = "WARNING"
    #: A snapshot (``.tar.gz``) that replaces the state when the emulator starts.
    seed: Path | None = None
    #: Durability policy: ``auto`` = ``never`` without a data dir, ``blobs`` with one.
    fsync: Fsync = "auto"
    #: "Folder Download" (``GET /api/archive/download/...``): off by default, like Artifactory.
    folder_download: bool = False
    folder_download_max_files: int = 5000
    folder_download_max_size_mb: int = 1024
    folder_download_max_parallel: int = 10
    #: Longest AQL query accepted, in characters: None = by version (6000 from 7.0, no
    #: limit before), 0 = no limit.
    aql_max_query_chars: int | None = None
    #: The OSS edition's answer to an explode deploy: the deploy servlet's short Pro-only
    #: message (read in the 6.x source) or the REST resources' long one (7.x unverified).
    oss_explode_message: ExplodeMessage = "short"
    #: Server processes sharing the data dir and the port (``--workers``); above 1 the
    #: emulator is a throughput server: no request journal, no fault rules, no run-time
    #: settings (see ``fake_artifactory.server.workers``).
    workers: int = 1
    #: Secret guarding ``/_fake/`` (see :func:`with_control_token`); None: open.
    control_token: str | None = field(default=None, repr=False)
    #: Where a server writes the control token in force (mode 0600) before it says READY.
    control_token_file: Path | None = None

    def __post_init__(self) -> None:
        token = self.control_token
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise ConfigurationError("the control token must be non-empty, without spaces")

    @property
    def admin_user(self) -> str:
        """Name of the user that owns tokens and API keys."""
        for user in self.users:
            if "admin" in user.perms:
                return user.name
        return self.users[0].name if self.users else "admin"

    @classmethod
    def from_args(cls, argv: Sequence[str] | None = None) -> EmulatorConfig:
        """Build a config from ``fake-artifactory serve`` style arguments (without ``serve``)."""
        ns = build_parser().parse_args(list(argv) if argv is not None else None)
        return cls.from_namespace(ns)

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> EmulatorConfig:
        """Build a config from a parsed :func:`build_parser` namespace."""
        repos = [DEFAULT_REPO]
        for key in ns.repo or []:
            if key not in repos:
                repos.append(key)
        users = tuple(ns.user) if ns.user else DEFAULT_USERS
        if ns.tls_self_signed and (ns.tls_cert or ns.tls_key):
            raise ConfigurationError(
                "--tls-self-signed cannot be combined with --tls-cert/--tls-key"
            )
        if bool(ns.tls_cert) != bool(ns.tls_key):
            raise ConfigurationError("--tls-cert and --tls-key must be given together")
        workers = getattr(ns, "workers", 1)
        control_token = getattr(ns, "control_token", None)
        token_file = getattr(ns, "control_token_file", None)
        if workers > 1 and ns.faults:
            raise ConfigurationError(
                "--faults needs one process (rule counters are per process); drop --workers"
            )
        return cls(
            host=ns.host,
            port=ns.port,
            data_dir=Path(ns.data_dir) if ns.data_dir else None,
            repos=tuple(repos),
            users=users,
            tokens=tuple(ns.token or ()),
            api_keys=tuple(ns.api_key or ()),
            anonymous=ns.anonymous,
            edition=ns.edition,
            version=ns.version,
            latency_ms=ns.latency_ms,
            faults_file=Path(ns.faults) if ns.faults else None,
            fault_seed=getattr(ns, "fault_seed", 0),
            tls_cert=Path(ns.tls_cert) if ns.tls_cert else None,
            tls_key=Path(ns.tls_key) if ns.tls_key else None,
            tls_self_signed_ca=Path(ns.tls_self_signed) if ns.tls_self_signed else None,
            socket_timeout=ns.socket_timeout,
            log_level=ns.log_level,
            seed=Path(ns.seed) if getattr(ns, "seed", None) else None,
            fsync=getattr(ns, "fsync", "auto"),
            folder_download=bool(getattr(ns, "folder_download", False)),
            folder_download_max_files=getattr(ns, "folder_download_max_files", 5000),
            folder_download_max_size_mb=getattr(ns, "folder_download_max_size_mb", 1024),
            folder_download_max_parallel=getattr(ns, "folder_download_max_parallel", 10),
            workers=workers,
            aql_max_query_chars=getattr(ns, "aql_max_query_chars", None),
            oss_explode_message=getattr(ns, "oss_explode_message", "short"),
            control_token=env_control_token() if control_token is None else control_token,
            control_token_file=Path(token_file) if token_file else None,
        )


def env_control_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The control token named by :data:`CONTROL_TOKEN_ENV` (empty counts as unset)."""
    value = (os.environ if environ is None else environ).get(CONTROL_TOKEN_ENV, "")
    return value or None


def is_loopback(host: str) -> bool:
    """True when ``host`` is reachable from this machine only (``127.0.0.0/8``, ``::1``,
    ``localhost``). Any other name counts as reachable from elsewhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def with_control_token(config: EmulatorConfig) -> EmulatorConfig:
    """``config`` with the control token it must enforce.

    A token given stays. Without one, a token is generated when the server is reachable
    from elsewhere (a host that is not loopback) or when ``control_token_file`` asks
    for one; on loopback the control plane stays open, as it always was.  Idempotent,
    so every entry point (CLI, ``--workers`` parent, :class:`ThreadedServer`) calls it
    and all processes of one server share one token.
    """
    if config.control_token is not None:
        return config
    if is_loopback(config.host) and config.control_token_file is None:
        return config
    return dataclasses.replace(config, control_token=secrets.token_urlsafe(32))


def user_arg(value: str) -> UserSpec:
    """Parse ``NAME:PASSWORD[:PERMS]`` (PERMS a comma list, default all)."""
    parts = value.split(":", 2)
    if len(parts) < 2 or not parts[0]:
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD[:PERMS]")
    perms = PERMISSIONS
    if len(parts) == 3 and parts[2]:
        perms = frozenset(p.strip() for p in parts[2].split(",") if p.strip())
        unknown = perms - PERMISSIONS
        if unknown:
            raise argparse.ArgumentTypeError(
                f"unknown permission(s) {sorted(unknown)}; choose from {sorted(PERMISSIONS)}"
            )
    return UserSpec(parts[0], parts[1], perms)


def port_arg(value: str) -> int:
    """Parse a TCP port (0 = pick a free one)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {port}")
    return port


def _int_at_least(value: str, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < least:
        raise argparse.ArgumentTypeError(f"must be >= {least}: {number}")
    return number


def non_negative_int_arg(value: str) -> int:
    """Parse an integer >= 0."""
    return _int_at_least(value, 0)


def positive_int_arg(value: str) -> int:
    """Parse an integer >= 1."""
    return _int_at_least(value, 1)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``fake-artifactory serve``."""
    p = argparse.ArgumentParser(prog="fake-artifactory serve", description="Run the emulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_arg, default=8081, help="0 picks a free port")
    p.add_argument("--data-dir", help="persist state here (default: ephemeral temp dir)")
    p.add_argument("--repo", action="append", metavar="KEY", help="extra local generic repo")
    p.add_argument(
        "--user",
        action="append",
        type=user_arg,
        metavar="NAME:PASSWORD[:PERMS]",
        help="PERMS: comma list of read,deploy,delete,annotate,admin (default all); "
        "the password cannot contain a colon",
    )
    p.add_argument("--token", action="append", metavar="TOKEN", help="access token (admin)")
    p.add_argument("--api-key", action="append", metavar="KEY", help="API key (admin)")
    p.add_argument("--anonymous", choices=("off", "read", "write"), default="off")
    p.add_argument("--edition", choices=("pro", "oss"), default="pro")
    p.add_argument("--version", default="7.90.10", help="Artifactory version to report")
    p.add_argument("--latency-ms", type=non_negative_int_arg, default=0)
    p.add_argument("--faults", metavar="FILE", help="fault rules file")
    p.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the RNG behind fault rules' probability (default 0)",
    )
    p.add_argument("--tls-cert", metavar="FILE")
    p.add_argument("--tls-key", metavar="FILE")
    p.add_argument("--tls-self-signed", metavar="CA_OUT", help="generate a CA + cert, write CA")
    p.add_argument(
        "--threads",
        type=non_negative_int_arg,
        default=None,
        help="ignored: the server runs every connection on one event loop (kept so that "
        "older command lines still start)",
    )
    p.add_argument("--socket-timeout", type=non_negative_int_arg, default=60, help="seconds")
    p.add_argument("--log-level", default="WARNING")
    p.add_argument(
        "--fsync",
        choices=("auto", "never", "blobs", "always"),
        default="auto",
        help="what to fsync: auto = never without --data-dir, blobs with it; "
        "always = survive power loss (slow). Every mode survives kill -9",
    )
    p.add_argument(
        "--seed", metavar="SNAPSHOT", help="load this snapshot (.tar.gz) at start, replacing state"
    )
    p.add_argument(
        "--folder-download",
        action="store_true",
        help="enable folder download as an archive (GET /api/archive/download/...)",
    )
    p.add_argument("--folder-download-max-files", type=non_negative_int_arg, default=5000)
    p.add_argument("--folder-download-max-size-mb", type=non_negative_int_arg, default=1024)
    p.add_argument("--folder-download-max-parallel", type=non_negative_int_arg, default=10)
    p.add_argument(
        "--aql-max-query-chars",
        type=non_negative_int_arg,
        default=None,
        metavar="N",
        help="refuse longer AQL queries with 400 (default: 6000 for a 7.x --version, "
        "none before; 0 = no limit)",
    )
    p.add_argument(
        "--oss-explode-message",
        choices=("short", "long"),
        default="short",
        help="the Pro-only message an OSS edition gives an explode deploy: short (the "
        "6.x deploy servlet's, default) or long (the REST resources')",
    )
    p.add_argument(
        "--workers",
        type=positive_int_arg,
        default=1,
        help="server processes sharing the port and the data dir (throughput mode: no "
        "request journal, fault rules or run-time settings when above 1)",
    )
    p.add_argument(
        "--control-token",
        metavar="TOKEN",
        help=f"require 'Authorization: Bearer TOKEN' (or admin credentials) on /_fake/ "
        f"(default: ${CONTROL_TOKEN_ENV}; generated when --host is not loopback)",
    )
    p.add_argument(
        "--control-token-file",
        metavar="PATH",
        help="write the control token to PATH (mode 0600); generates one if none is given",
    )
    return p
