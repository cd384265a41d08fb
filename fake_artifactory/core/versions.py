"""What depends on the Artifactory version the emulator reports (pure).

Artifactory 7.x identifies itself with ``X-JFrog-Version: Artifactory/<version>
<revision>`` and ``X-Artifactory-Node-Id`` (on a single node too) and sends no ``Server``
header; 6.x sends ``Server: Artifactory/<version>`` instead.  Both send
``X-Artifactory-Id``.  Every published on-premises 7.x answer has a revision of
``major*10^7 + minor*10^5 + patch*10^3 + 900`` (7.33.9 is 73309900, 7.104.6 is 80406900).

The 6,000-character limit on AQL queries is documented for 7.x only (the 6.20 source
has no such check), so it applies from 7.0 unless ``--aql-max-query-chars`` says
otherwise.
"""

from __future__ import annotations

import re

from fake_artifactory.config import EmulatorConfig

#: Longest AQL query text a 7.x server accepts (its documentation's default).
AQL_MAX_QUERY_CHARS_7X = 6000


def version_numbers(version: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` of a version string; missing or non-numeric parts are 0."""
    parts = [int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in version.split(".")]
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return major, minor, patch


def revision(version: str) -> str:
    """The build revision a real server of ``version`` reports (``7.90.10`` -> ``79010900``)."""
    major, minor, patch = version_numbers(version)
    return str(major * 10_000_000 + minor * 100_000 + patch * 1_000 + 900)


def is_7x_or_later(config: EmulatorConfig) -> bool:
    return version_numbers(config.version)[0] >= 7


def response_headers(config: EmulatorConfig) -> list[tuple[str, str]]:
    """The identity headers every answer carries, as the configured version sends them."""
    if is_7x_or_later(config):
        return [
            ("X-JFrog-Version", f"Artifactory/{config.version} {revision(config.version)}"),
            ("X-Artifactory-Id", config.server_id),
            ("X-Artifactory-Node-Id", config.node_id),
        ]
    return [("X-Artifactory-Id", config.server_id), ("Server", f"Artifactory/{config.version}")]


def aql_query_limit(config: EmulatorConfig) -> int | None:
    """Longest accepted AQL query in characters, None for no limit."""
    if config.aql_max_query_chars is not None:
        return config.aql_max_query_chars or None
    return AQL_MAX_QUERY_CHARS_7X if is_7x_or_later(config) else None
