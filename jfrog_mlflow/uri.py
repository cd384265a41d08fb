"""Parsing of ``artifactory://`` artifact URIs (pure, no I/O).

Two forms are accepted. The rule that tells them apart, applied in this order:

1. **Full form** (JFrog's plugin): ``artifactory://<host>[:port]/artifactory/<repo>/<path>``.
   A URI is in full form when it has an authority (``//...``) and its first path segment is
   literally ``artifactory`` (Artifactory's context path), *or* when its authority equals the
   host[:port] of ``MLFLOW_ARTIFACTORY_ENDPOINT_URL`` and its path starts with that endpoint's
   context path (this supports reverse-proxied instances at another path). The scheme is
   ``http`` when ``ARTIFACTORY_NO_SSL`` is true or when the endpoint variable names the same
   host with ``http``; otherwise ``https``.
2. Otherwise the URI is in **short form** and needs ``MLFLOW_ARTIFACTORY_ENDPOINT_URL``:
   ``artifactory://<path>`` (authority and path read together as one path) is ``<path>``
   inside ``MLFLOW_ARTIFACTORY_REPO``; when that variable is unset, the first segment of
   ``<path>`` is the repository key. ``artifactory://mlflow-test/`` is thus the folder
   ``mlflow-test`` of the configured repository.

Consequence of the rule: in short form, a top-level folder literally named ``artifactory``
cannot be addressed as ``artifactory://artifactory/...``; use
``artifactory://<repo>/artifactory/...`` with ``MLFLOW_ARTIFACTORY_REPO`` unset, or the full form.

Paths are taken literally (no percent-decoding); ``?`` and ``#`` are ordinary characters.
Empty segments and trailing slashes are dropped; ``.`` and ``..`` segments are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from jfrog_mlflow.config import PluginConfig
from jfrog_mlflow.errors import HostNotAllowed, InvalidArtifactUri

__all__ = [
    "SCHEME",
    "ArtifactoryLocation",
    "check_host_allowed",
    "normalize_netloc",
    "parse_artifact_uri",
    "trusted_netlocs",
]

SCHEME = "artifactory"
_CONTEXT = "artifactory"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class ArtifactoryLocation:
    """Where an artifact URI points.

    Attributes:
        base_url: ``scheme://host[:port]/<context>`` without trailing slash.
        repo: Repository key.
        path: POSIX path inside the repository, no leading/trailing slash; ``""`` = root.
        netloc: Normalised ``host:port`` of ``base_url`` (used for the host policy).
        full_form: Whether the URI named its host itself.
        repo_from: Where the repository key came from, for messages (the variable, or
            the URI).
        endpoint_from: Where ``base_url`` came from, for messages.
    """

    base_url: str
    repo: str
    path: str
    netloc: str
    full_form: bool
    repo_from: str = "the artifact URI"
    endpoint_from: str = "the artifact URI"


def normalize_netloc(scheme: str, netloc: str) -> str:
    """Return ``host:port`` lower-cased with the scheme's default port filled in."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
    except ValueError:  # e.g. an unclosed or invalid IPv6 literal
        raise InvalidArtifactUri(f"Invalid host '{netloc}'") from None
    try:
        port = parts.port
    except ValueError:
        raise InvalidArtifactUri(f"Invalid port in host '{netloc}'") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise InvalidArtifactUri(f"Missing host in '{netloc}'")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port or _DEFAULT_PORTS.get(scheme, 443)}"


def _segments(path: str, uri: str) -> list[str]:
    segments = [s for s in path.split("/") if s != ""]
    for seg in segments:
        if seg in (".", ".."):
            raise InvalidArtifactUri(
                f"Invalid artifact URI '{uri}': '.' and '..' path segments are not allowed"
            )
    return segments


def parse_artifact_uri(uri: str, config: PluginConfig) -> ArtifactoryLocation:
    """Parse an ``artifactory://`` URI according to the rule in the module docstring.

    Raises:
        InvalidArtifactUri: the URI does not parse.
        ConfigurationError-like ``InvalidArtifactUri``: short form without an endpoint.
    """
    scheme, sep, rest = uri.partition(":")
    if not sep or scheme.lower() != SCHEME:
        raise InvalidArtifactUri(f"Not an artifactory:// URI: '{uri}'")
    authority: str | None = None
    path = rest
    if rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        path = slash + tail
    endpoint = urlsplit(config.endpoint_url) if config.endpoint_url else None
    segments = _segments(path, uri)

    if authority:
        endpoint_netloc = (
            normalize_netloc(endpoint.scheme, endpoint.netloc) if endpoint is not None else None
        )
        endpoint_context = _segments(endpoint.path, uri) if endpoint is not None else []
        if endpoint is not None and "@" not in authority:
            try:
                same_host = normalize_netloc(endpoint.scheme, authority) == endpoint_netloc
            except InvalidArtifactUri:
                same_host = False
            # An endpoint served at the root has an empty context path: every path of
            # its host:port starts with it.
            if same_host and segments[: len(endpoint_context)] == endpoint_context:
                return _full_form(
                    uri, endpoint.scheme, authority, endpoint_context, segments, config
                )
        if segments and segments[0] == _CONTEXT:
            if "@" in authority:
                raise InvalidArtifactUri(
                    f"Invalid artifact URI '{uri}': credentials in URIs are not supported"
                )
            scheme_for_host = "http" if config.no_ssl else "https"
            if endpoint is not None and endpoint.scheme == "http":
                for s in ("http", "https"):
                    if normalize_netloc(s, authority) == endpoint_netloc:
                        scheme_for_host = "http"
            return _full_form(uri, scheme_for_host, authority, [_CONTEXT], segments, config)
        segments = _segments(authority, uri) + segments

    if endpoint is None or config.endpoint_url is None:
        raise InvalidArtifactUri(
            f"Cannot resolve artifact URI '{uri}': short-form URIs need the environment "
            "variable MLFLOW_ARTIFACTORY_ENDPOINT_URL (e.g. https://host/artifactory), or use "
            "the full form artifactory://<host>/artifactory/<repo>/<path>"
        )
    if config.repo:
        repo, inner = config.repo, segments
        repo_from = "MLFLOW_ARTIFACTORY_REPO"
    else:
        if not segments:
            raise InvalidArtifactUri(
                f"Invalid artifact URI '{uri}': no repository key; set MLFLOW_ARTIFACTORY_REPO "
                "or start the path with the repository key"
            )
        repo, inner = segments[0], segments[1:]
        repo_from = f"the first path segment of the artifact URI '{uri}'"
    return ArtifactoryLocation(
        base_url=config.endpoint_url,
        repo=repo,
        path="/".join(inner),
        netloc=normalize_netloc(endpoint.scheme, endpoint.netloc),
        full_form=False,
        repo_from=repo_from,
        endpoint_from="MLFLOW_ARTIFACTORY_ENDPOINT_URL",
    )


def _full_form(
    uri: str,
    scheme: str,
    authority: str,
    context: list[str],
    segments: list[str],
    config: PluginConfig,
) -> ArtifactoryLocation:
    rest = segments[len(context) :]
    if not rest:
        raise InvalidArtifactUri(
            f"Invalid artifact URI '{uri}': expected "
            "artifactory://<host>[:port]/artifactory/<repo>/<path>"
        )
    netloc = normalize_netloc(scheme, authority)
    base = f"{scheme}://{authority.lower()}" + "".join(f"/{seg}" for seg in context)
    return ArtifactoryLocation(
        base_url=base,
        repo=rest[0],
        path="/".join(rest[1:]),
        netloc=netloc,
        full_form=True,
        repo_from=f"the artifact URI '{uri}'",
        endpoint_from=f"the artifact URI '{uri}'",
    )


def trusted_netlocs(config: PluginConfig) -> tuple[set[str], set[str]]:
    """Return ``(exact host:port set, any-port host set)`` credentials may be sent to."""
    exact: set[str] = set()
    any_port: set[str] = set()
    if config.endpoint_url:
        parts = urlsplit(config.endpoint_url)
        exact.add(normalize_netloc(parts.scheme, parts.netloc))
    for entry in config.allowed_hosts:
        if entry.count(":") > 1 and not entry.startswith("["):
            entry = f"[{entry}]"  # a bare IPv6 address: any port, like a bare host name
        if entry.startswith("[") and "]:" not in entry:
            any_port.add(entry)
        elif ":" in entry and not entry.startswith("["):
            host, _, port = entry.rpartition(":")
            exact.add(f"{host}:{port}")
        elif entry.startswith("["):
            exact.add(entry)
        else:
            any_port.add(entry)
    for server_uri in config.server_artifact_uris:
        try:
            loc = parse_artifact_uri(server_uri, config)
        except InvalidArtifactUri:
            continue
        exact.add(loc.netloc)
    return exact, any_port


def check_host_allowed(location: ArtifactoryLocation, uri: str, config: PluginConfig) -> None:
    """Refuse a URI naming a host our credentials must not reach (see ``config`` docs).

    Raises:
        HostNotAllowed: before any request is made.
    """
    exact, any_port = trusted_netlocs(config)
    if not exact and not any_port:
        # Plain client configured like JFrog's plugin: the URI's host *is* the endpoint.
        return
    host = location.netloc.rpartition(":")[0]
    if location.netloc in exact or host in any_port:
        return
    raise HostNotAllowed(
        f"Artifact URI '{uri}' names host '{location.netloc}', which is not a trusted "
        "Artifactory host; add it to MLFLOW_ARTIFACTORY_ALLOWED_HOSTS or use "
        "MLFLOW_ARTIFACTORY_ENDPOINT_URL"
    )
