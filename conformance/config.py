"""Target configuration: the only module that reads ``os.environ``.

Precedence: command-line option > ``ARTIFACTORY_CONFORMANCE_*`` variable > default. If any
credential option is given on the command line, credential variables are ignored, so a
command line never mixes with a stale environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from conformance.errors import ConformanceConfigError

__all__ = ["Credentials", "TargetConfig", "ENV_PREFIX", "DEFAULT_REPO", "EMULATOR_TOKEN"]

ENV_PREFIX = "ARTIFACTORY_CONFORMANCE_"
#: Repository used when none is named (exists on a fresh Artifactory and in the emulator).
DEFAULT_REPO = "example-repo-local"
#: Token the bundled emulator is started with.
EMULATOR_TOKEN = "conformance-token"  # noqa: S105 - a fixed test token for the local emulator


@dataclass(frozen=True, slots=True)
class Credentials:
    """At most one way of authenticating; secrets are kept out of ``repr``."""

    token: str | None = field(default=None, repr=False)
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """``token``, ``basic``, ``api-key`` or ``anonymous``."""
        if self.token:
            return "token"
        if self.user:
            return "basic"
        if self.api_key:
            return "api-key"
        return "anonymous"

    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for redaction."""
        return tuple(s for s in (self.token, self.password, self.api_key) if s)


@dataclass(frozen=True, slots=True)
class TargetConfig:
    """Where the suite runs and how it behaves on a shared server."""

    url: str | None
    repo: str = DEFAULT_REPO
    credentials: Credentials = field(default_factory=Credentials)
    prefix: str = "conformance"
    keep_artifacts: bool = False
    janitor: bool = False
    ca_bundle: str | None = None
    emulator_edition: str = "pro"
    json_report: str | None = None
    max_requests: int = 0
    #: Where ``--fidelity-report`` writes the fidelity probes' report (None: nowhere).
    fidelity_report: str | None = None

    @property
    def is_emulator(self) -> bool:
        """True when no URL is given and the bundled emulator is used."""
        return self.url is None

    @classmethod
    def from_options(
        cls, options: Mapping[str, object], environ: Mapping[str, str] | None = None
    ) -> TargetConfig:
        """Build the config from parsed pytest options and the environment."""
        env = os.environ if environ is None else environ

        def pick(option: str, variable: str) -> str | None:
            value = options.get(option)
            if isinstance(value, str) and value:
                return value
            return env.get(ENV_PREFIX + variable) or None

        url = pick("artifactory_url", "URL")
        if url is not None:
            url = _check_url(url)
        cred_options = (
            "artifactory_token",
            "artifactory_user",
            "artifactory_password",
            "artifactory_api_key",
        )
        from_cli = any(options.get(o) for o in cred_options)

        def cred(option: str, variable: str) -> str | None:
            value = options.get(option)
            if from_cli:
                return value if isinstance(value, str) and value else None
            return env.get(ENV_PREFIX + variable) or None

        creds = Credentials(
            token=cred("artifactory_token", "TOKEN"),
            user=cred("artifactory_user", "USER"),
            password=cred("artifactory_password", "PASSWORD"),
            api_key=cred("artifactory_api_key", "API_KEY"),
        )
        _check_credentials(creds)
        if url is None and creds.kind == "anonymous":
            creds = Credentials(token=EMULATOR_TOKEN)
        edition = str(options.get("emulator_edition") or "pro")
        if edition not in ("pro", "oss"):
            raise ConformanceConfigError("--emulator-edition must be 'pro' or 'oss'")
        prefix = str(options.get("conformance_prefix") or "conformance").strip("/")
        if not prefix:
            raise ConformanceConfigError("--conformance-prefix must not be empty")
        json_report = options.get("conformance_json")
        fidelity_report = options.get("fidelity_report")
        try:
            max_requests = int(str(options.get("conformance_max_requests") or 0))
        except ValueError as exc:
            raise ConformanceConfigError("--conformance-max-requests must be an integer") from exc
        if max_requests < 0:
            raise ConformanceConfigError("--conformance-max-requests must not be negative")
        return cls(
            url=url,
            repo=pick("artifactory_repo", "REPO") or DEFAULT_REPO,
            credentials=creds,
            prefix=prefix,
            keep_artifacts=bool(options.get("keep_artifacts")),
            janitor=bool(options.get("janitor")),
            ca_bundle=env.get("REQUESTS_CA_BUNDLE") or None,
            emulator_edition=edition,
            json_report=json_report if isinstance(json_report, str) and json_report else None,
            max_requests=max_requests,
            fidelity_report=fidelity_report if isinstance(fidelity_report, str) else None,
        )


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConformanceConfigError(
            "--artifactory-url must look like https://host/artifactory (got a "
            f"{parts.scheme or 'scheme-less'} URL)"
        )
    if parts.username or parts.password:
        raise ConformanceConfigError(
            "--artifactory-url must not contain credentials; use --artifactory-token or "
            "--artifactory-user/--artifactory-password"
        )
    return url.rstrip("/")


def _check_credentials(creds: Credentials) -> None:
    given = [k for k, v in (("token", creds.token), ("api key", creds.api_key)) if v]
    if creds.user or creds.password:
        given.append("user/password")
        if not (creds.user and creds.password):
            raise ConformanceConfigError(
                "--artifactory-user and --artifactory-password must be given together"
            )
    if len(given) > 1:
        raise ConformanceConfigError(
            "give exactly one of --artifactory-token, --artifactory-user/--artifactory-password "
            f"or --artifactory-api-key (got {', '.join(given)})"
        )
