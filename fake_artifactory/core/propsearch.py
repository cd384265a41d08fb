"""Pure core of property search (``GET /api/search/prop``): criteria and matching.

Every query parameter except ``repos`` and ``properties`` is a criterion; keys are
ANDed, repeated keys (and comma-separated values) are ORed, values may use the ``*``
and ``?`` wildcards.  No Flask or storage here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from fake_artifactory.core.errors import HttpError

CONTENT_TYPE = "application/vnd.org.jfrog.artifactory.search.MetadataSearchResult+json"
RESERVED = frozenset({"repos", "properties"})
ONLY_WILDCARDS = "Search term containing only wildcards is not permitted"


@dataclass(frozen=True, slots=True)
class PropertyQuery:
    criteria: Mapping[str, tuple[str, ...]]
    repos: frozenset[str] | None


def parse_query(pairs: Iterable[tuple[str, str]]) -> PropertyQuery:
    """Build a query from decoded ``(key, value)`` pairs (repeats allowed).

    Raises HttpError 404 when there is no criterion and 400 when a value is only
    wildcards.
    """
    criteria: dict[str, list[str]] = {}
    repos: set[str] | None = None
    for key, value in pairs:
        if key == "repos":
            repos = (repos or set()) | {r.strip() for r in value.split(",") if r.strip()}
            continue
        if key in RESERVED or not key:
            continue
        values = [v for v in value.split(",")] if value else [""]
        for v in values:
            if v and set(v) <= {"*", "?"}:
                raise HttpError(400, ONLY_WILDCARDS)
        criteria.setdefault(key, []).extend(values)
    if not criteria:
        raise HttpError(404, "Not Found")
    return PropertyQuery(
        {k: tuple(v) for k, v in criteria.items()},
        frozenset(repos) if repos is not None else None,
    )


@lru_cache(maxsize=256)
def _pattern(value: str) -> re.Pattern[str]:
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in value)
    return re.compile(regex, re.DOTALL)


def value_matches(wanted: str, actual: str) -> bool:
    return _pattern(wanted).fullmatch(actual) is not None


def matches(query: PropertyQuery, repo: str, properties: Mapping[str, Sequence[str]]) -> bool:
    """True when the item's repository and properties satisfy every criterion."""
    if query.repos is not None and repo not in query.repos:
        return False
    for key, wanted in query.criteria.items():
        actual = properties.get(key)
        if actual is None:
            return False
        if not any(value_matches(w, a) for w in wanted for a in actual):
            return False
    return True
