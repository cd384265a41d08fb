"""Artifactory Query Language (AQL) for the ``items`` domain: evaluator (the parser is in
:mod:`fake_artifactory.core.aql.parser`).

Supported: ``items.find({...})`` with field criteria on repo, path, name, type, size,
depth, created, modified, updated, created_by, modified_by, sha256, actual_sha1,
actual_md5, original_sha1, original_md5 and ``@<property key>``; the comparison
operators ``$eq $ne $match $nmatch $gt $gte $lt $lte``; ``$and``/``$or`` over arrays of
objects (several keys in one object are an implicit ``$and``); and the modifiers
``.include(...)``, ``.sort({"$asc"|"$desc": [...]})``, ``.offset(n)`` and ``.limit(n)``.

The output mirrors the real server (reference §9): ``{"results": [...], "range": {...}}``
with paths relative to the repository root, ``"."`` for items in the root and for the
root folder itself, numeric sizes (0 for folders) and ISO timestamps with milliseconds.

Semantics worth knowing (they follow Artifactory's documentation):

* Without a ``type`` criterion only files match; ``"type": "any"`` matches both.
* ``$match``/``$nmatch`` take ``*`` (any run) and ``?`` (one character) wildcards and
  are case-sensitive.
* A property criterion holds when *some* value of the key satisfies it; ``$ne`` and
  ``$nmatch`` on a property hold when *no* value equals/matches (so items without the
  key match them).
* The "catch all" notation on properties: ``"@*"`` as the key stands for any key and
  ``"*"`` as an equality value for any value (``{"@k": "*"}``: items that have ``k``;
  ``{"@*": {"$match": "*"}}``: items with any property, which JFrog CLI's sorted and
  limited searches use to fetch properties).
* Without ``.sort()`` results come in (repo, path, name) order, for determinism.

This module is pure: no Flask, no I/O. Syntax and semantic errors raise `AqlError`,
whose message names the line, column and problem; the route answers it with 400
``text/plain``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from fake_artifactory.core.aql.parser import (
    _CHECKSUM_FIELDS,
    _DATE_FIELDS,
    _FIELD_ORDER,
    _ITEM_FIELDS,
    DEFAULT_FIELDS,
    AqlQuery,
    _Compare,
    _Criterion,
    _Group,
    parse,
)
from fake_artifactory.core.aql.relative import RELATIVE_OPERATORS, Period
from fake_artifactory.core.records import ItemRecord

__all__ = ["AqlItem", "ItemLike", "aql_item", "execute", "format_timestamp", "search"]

# --- items -----------------------------------------------------------------------------


class ItemLike(Protocol):
    """What the evaluator reads from a stored item (the store's items satisfy it)."""

    @property
    def repo(self) -> str: ...
    @property
    def path(self) -> str: ...  # repo-relative, no leading slash; "" for the root
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...  # "file" or "folder"
    @property
    def size(self) -> int: ...
    @property
    def created(self) -> datetime: ...
    @property
    def modified(self) -> datetime: ...
    @property
    def updated(self) -> datetime: ...
    @property
    def created_by(self) -> str: ...
    @property
    def modified_by(self) -> str: ...
    @property
    def sha1(self) -> str | None: ...
    @property
    def md5(self) -> str | None: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def original_sha1(self) -> str | None: ...
    @property
    def original_md5(self) -> str | None: ...
    @property
    def properties(self) -> Mapping[str, Sequence[str]]: ...
    @property
    def virtual_repos(self) -> Sequence[str]: ...  # the virtual repositories it is seen in


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class AqlItem:
    """A plain `ItemLike`, for tests and for stores that want a ready-made record."""

    repo: str
    path: str
    name: str
    type: str = "file"
    size: int = 0
    created: datetime = _EPOCH
    modified: datetime = _EPOCH
    updated: datetime = _EPOCH
    created_by: str = "admin"
    modified_by: str = "admin"
    sha1: str | None = None
    md5: str | None = None
    sha256: str | None = None
    original_sha1: str | None = None
    original_md5: str | None = None
    properties: Mapping[str, Sequence[str]] = field(default_factory=dict)
    virtual_repos: Sequence[str] = ()


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def aql_item(item: ItemRecord, virtual_repos: Sequence[str] = ()) -> AqlItem:
    """The AQL view of a stored item (timestamps as datetimes), seen through
    ``virtual_repos`` (the virtual repositories that include its repository)."""
    return AqlItem(
        repo=item.repo,
        path=item.path,
        name=item.name,
        type=item.type,
        size=item.size,
        created=_when(item.created),
        modified=_when(item.modified),
        updated=_when(item.updated),
        created_by=item.created_by,
        modified_by=item.modified_by,
        sha1=item.sha1,
        md5=item.md5,
        sha256=item.sha256,
        original_sha1=item.original_sha1,
        original_md5=item.original_md5,
        properties=item.properties,
        virtual_repos=tuple(virtual_repos),
    )


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with exactly three fractional digits and ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _aql_location(item: ItemLike) -> tuple[str, str]:
    """Return the AQL ``(path, name)``: the parent path, ``"."`` at the root."""
    relative = item.path.strip("/")
    if not relative:
        return ".", "."
    parent, _, name = relative.rpartition("/")
    return (parent or "."), (item.name or name)


def _field_value(item: ItemLike, name: str) -> Any:
    path, item_name = _aql_location(item)
    is_folder = item.type == "folder"
    if name == "path":
        return path
    if name == "name":
        return item_name
    if name == "size":
        return 0 if is_folder else int(item.size)
    if name == "depth":
        relative = item.path.strip("/")
        return relative.count("/") + 1 if relative else 0
    if name == "actual_sha1":
        return item.sha1
    if name == "actual_md5":
        return item.md5
    return getattr(item, name)


# --- evaluation --------------------------------------------------------------------------


def _wildcard(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": lambda a, b: bool(a == b),
    "$ne": lambda a, b: bool(a != b),
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
}


def _test(op: str, actual: Any, expected: Any) -> bool:
    if op in ("$match", "$nmatch"):
        hit = actual is not None and _wildcard(expected).fullmatch(str(actual)) is not None
        return hit if op == "$match" else not hit
    if actual is None:
        return op == "$ne"
    if isinstance(expected, float):
        actual = float(actual)
    return _ORDERED[op](actual, expected)


def _some(op: str, values: Iterable[Any], expected: Any) -> bool:
    """A criterion over several values (a property's, a repository's names): it holds
    when *some* value satisfies it, or for ``$ne``/``$nmatch`` when *none* is equal to
    or matches ``expected`` (so no value at all satisfies those)."""
    if op in ("$ne", "$nmatch"):
        positive = "$eq" if op == "$ne" else "$match"
        return not any(_test(positive, v, expected) for v in values)
    return any(_test(op, v, expected) for v in values)


def _matches(item: ItemLike, criterion: _Criterion) -> bool:
    if isinstance(criterion, _Group):
        results = (_matches(item, child) for child in criterion.children)
        return all(results) if criterion.op == "$and" else any(results)
    if criterion.field.startswith("@"):
        key = criterion.field[1:]
        if key == "*":
            values: Sequence[str] = [v for vs in item.properties.values() for v in vs]
        else:
            values = item.properties.get(key, ())
        if criterion.op == "$eq" and criterion.value == "*":
            return bool(values)
        return _some(criterion.op, values, criterion.value)
    if criterion.field == "repo" and item.virtual_repos:
        # An item is also in every virtual repository that includes its repository.
        return _some(criterion.op, (item.repo, *item.virtual_repos), criterion.value)
    if criterion.field == "type" and criterion.value == "any" and criterion.op in ("$eq", "$ne"):
        return criterion.op == "$eq"
    return _test(criterion.op, _field_value(item, criterion.field), criterion.value)


def _mentions_type(criterion: _Criterion) -> bool:
    if isinstance(criterion, _Group):
        return any(_mentions_type(child) for child in criterion.children)
    return criterion.field == "type"


def _render(item: ItemLike, include: Sequence[str]) -> dict[str, Any]:
    item_fields = [f for f in include if f in _ITEM_FIELDS]
    if "*" in include:
        item_fields = list(_FIELD_ORDER)
    elif not item_fields:
        item_fields = list(DEFAULT_FIELDS)
    wanted = set(item_fields)
    row: dict[str, Any] = {}
    for name in _FIELD_ORDER:
        if name not in wanted:
            continue
        value = _field_value(item, name)
        if name in _CHECKSUM_FIELDS and value is None:
            continue  # folders carry no checksums
        row[name] = format_timestamp(value) if name in _DATE_FIELDS else value
    property_keys = [f[1:] for f in include if f.startswith("@")]
    if "property" in include or "*" in include or property_keys:
        row["properties"] = [
            {"key": key, "value": value}
            for key in sorted(item.properties)
            if "property" in include or "*" in include or key in property_keys
            for value in item.properties[key]
        ]
    if "virtual_repos" in include:
        row["virtual_repos"] = list(item.virtual_repos)
    if "stat" in include:
        row["stats"] = [{"downloads": 0}]
    return row


def _names_a_virtual_repo(criterion: _Criterion, virtual: frozenset[str]) -> bool:
    if isinstance(criterion, _Group):
        return any(_names_a_virtual_repo(child, virtual) for child in criterion.children)
    return criterion.field == "repo" and criterion.op == "$eq" and criterion.value in virtual


def _sort_key(fields: Sequence[str]) -> Callable[[ItemLike], tuple[Any, ...]]:
    def key(item: ItemLike) -> tuple[Any, ...]:
        values = []
        for name in fields:
            value = _field_value(item, name)
            values.append((value is not None, value if value is not None else ""))
        return tuple(values)

    return key


def _absolute(criterion: _Criterion, now: datetime) -> _Criterion:
    """``criterion`` with every relative time (``$before``/``$last``) made absolute."""
    if isinstance(criterion, _Group):
        return _Group(criterion.op, tuple(_absolute(c, now) for c in criterion.children))
    if isinstance(criterion.value, Period):
        op = RELATIVE_OPERATORS[criterion.op]
        return _Compare(criterion.field, op, criterion.value.before(now))
    return criterion


def execute(
    query: AqlQuery,
    items: Iterable[ItemLike],
    virtual: frozenset[str] = frozenset(),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run a parsed query over ``items``; return the JSON-able AQL response.

    The caller passes only the items the user may read (AQL filters silently), each with
    the virtual repositories it is seen in; ``virtual`` names every virtual repository.
    A query that names one as its target (``"repo": <virtual>``) answers
    ``virtual_repos`` without being asked to. Relative times (``$before``, ``$last``)
    count back from ``now`` (default: the current time).
    """
    if _names_a_virtual_repo(query.criteria, virtual) and "virtual_repos" not in query.include:
        include = query.include or DEFAULT_FIELDS
        query = replace(query, include=(*include, "virtual_repos"))
    criteria: _Criterion = _absolute(query.criteria, now or datetime.now(timezone.utc))
    if not _mentions_type(criteria):
        criteria = _Group("$and", (criteria, _Compare("type", "$eq", "file")))
    hits = [item for item in items if _matches(item, criteria)]
    hits.sort(key=_sort_key(("repo", "path", "name")))
    if query.sort_fields:
        hits.sort(key=_sort_key(query.sort_fields), reverse=query.sort_desc)
    window = hits[query.offset :]
    if query.limit is not None:
        window = window[: query.limit]
    results = [_render(item, query.include) for item in window]
    range_block: dict[str, int] = {
        "start_pos": query.offset,
        "end_pos": len(results),
        "total": len(results),
    }
    if query.limit is not None:
        range_block["limit"] = query.limit
    return {"results": results, "range": range_block}


def search(
    text: str, items: Iterable[ItemLike], virtual: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`parse` then `execute`."""
    return execute(parse(text), items, virtual)
