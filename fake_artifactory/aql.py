"""Artifactory Query Language (AQL) for the ``items`` domain: tokenizer, parser, evaluator.

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
* Without ``.sort()`` results come in (repo, path, name) order, for determinism.

This module is pure: no Flask, no I/O. Syntax and semantic errors raise `AqlError`,
whose message names the line, column and problem; the route answers it with 400
``text/plain``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, Union

__all__ = [
    "DEFAULT_FIELDS",
    "AqlError",
    "AqlItem",
    "AqlQuery",
    "ItemLike",
    "execute",
    "format_timestamp",
    "parse",
    "search",
]

#: Item fields returned when the query has no ``.include()``.
DEFAULT_FIELDS = (
    "repo",
    "path",
    "name",
    "type",
    "size",
    "created",
    "created_by",
    "modified",
    "modified_by",
    "updated",
)
_STRING_FIELDS = frozenset(
    {
        "repo",
        "path",
        "name",
        "type",
        "created_by",
        "modified_by",
        "sha256",
        "actual_sha1",
        "actual_md5",
        "original_sha1",
        "original_md5",
    }
)
_NUMBER_FIELDS = frozenset({"size", "depth"})
_DATE_FIELDS = frozenset({"created", "modified", "updated"})
_ITEM_FIELDS = _STRING_FIELDS | _NUMBER_FIELDS | _DATE_FIELDS
#: Canonical output order of item fields.
_FIELD_ORDER: tuple[str, ...] = (
    *DEFAULT_FIELDS,
    "depth",
    "actual_sha1",
    "actual_md5",
    "original_sha1",
    "original_md5",
    "sha256",
)
_OPERATORS = frozenset({"$eq", "$ne", "$match", "$nmatch", "$gt", "$gte", "$lt", "$lte"})
_CHECKSUM_FIELDS = frozenset(
    {"sha256", "actual_sha1", "actual_md5", "original_sha1", "original_md5"}
)


class AqlError(ValueError):
    """The query does not parse or asks for something AQL does not allow.

    Attributes:
        detail: what is wrong.
        line, column: 1-based position of the problem in the query text (0 when unknown).
    """

    def __init__(self, detail: str, line: int = 0, column: int = 0) -> None:
        self.detail = detail
        self.line = line
        self.column = column
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(f"AQL error{where}: {detail}")


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


# --- tokenizer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "ident", "string", "number", "punct", "eof"
    value: Any
    text: str
    offset: int


_PUNCTUATION = frozenset("(){}[]:,.;")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text

    def position(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return line, column

    def error(self, detail: str, offset: int) -> AqlError:
        return AqlError(detail, *self.position(offset))

    def tokens(self) -> list[_Token]:
        text, pos, out = self.text, 0, []
        while True:
            while pos < len(text) and text[pos].isspace():
                pos += 1
            if pos >= len(text):
                out.append(_Token("eof", None, "end of query", pos))
                return out
            char = text[pos]
            if char in _PUNCTUATION:
                out.append(_Token("punct", char, char, pos))
                pos += 1
            elif char in "\"'":
                value, end = self._string(pos)
                out.append(_Token("string", value, text[pos:end], pos))
                pos = end
            elif (match := _NUMBER_RE.match(text, pos)) is not None:
                literal = match.group()
                number: int | float = (
                    float(literal) if any(c in literal for c in ".eE") else int(literal)
                )
                out.append(_Token("number", number, literal, pos))
                pos = match.end()
            elif (match := _IDENT_RE.match(text, pos)) is not None:
                out.append(_Token("ident", match.group(), match.group(), pos))
                pos = match.end()
            else:
                raise self.error(f"unexpected character {char!r}", pos)

    def _string(self, start: int) -> tuple[str, int]:
        quote, text, pos = self.text[start], self.text, start + 1
        chars: list[str] = []
        while pos < len(text):
            char = text[pos]
            if char == quote:
                return "".join(chars), pos + 1
            if char == "\\":
                pos += 1
                if pos >= len(text):
                    break
                escape = text[pos]
                if escape == "u":
                    digits = text[pos + 1 : pos + 5]
                    if len(digits) != 4 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                        raise self.error("bad \\u escape in string", pos - 1)
                    chars.append(chr(int(digits, 16)))
                    pos += 5
                    continue
                if escape == quote:
                    chars.append(quote)
                elif escape in _ESCAPES:
                    chars.append(_ESCAPES[escape])
                else:
                    raise self.error(f"bad escape \\{escape} in string", pos - 1)
                pos += 1
                continue
            chars.append(char)
            pos += 1
        raise self.error("unterminated string", start)


# --- parser ------------------------------------------------------------------------------

_Json = Union[str, int, float, bool, None, "_Object", list["_Json"]]


@dataclass
class _Object:
    """A JSON-like object that remembers where each key was written."""

    pairs: list[tuple[str, _Json, int]]
    offset: int


@dataclass(frozen=True)
class _Compare:
    field: str  # item field, or "@key" for a property
    op: str
    value: Any


@dataclass(frozen=True)
class _Group:
    op: str  # "$and" or "$or"
    children: tuple[_Criterion, ...]


_Criterion = _Compare | _Group


@dataclass(frozen=True)
class AqlQuery:
    """A parsed ``items.find(...)`` query."""

    criteria: _Group
    include: tuple[str, ...] = ()
    sort_fields: tuple[str, ...] = ()
    sort_desc: bool = False
    offset: int = 0
    limit: int | None = None


class _Parser:
    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text)
        self.tokens = self.lexer.tokens()
        self.index = 0

    # token helpers
    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.current
        if token.kind != "eof":
            self.index += 1
        return token

    def error(self, detail: str, token: _Token | None = None) -> AqlError:
        token = token or self.current
        return self.lexer.error(detail, token.offset)

    def expect(self, value: str, what: str) -> _Token:
        token = self.current
        if token.kind not in ("punct", "ident") or token.value != value:
            raise self.error(f"expected {what}, found {token.text!r}")
        return self.advance()

    def accept(self, value: str) -> bool:
        if self.current.kind == "punct" and self.current.value == value:
            self.advance()
            return True
        return False

    # grammar
    def query(self) -> AqlQuery:
        domain = self.current
        if domain.kind != "ident":
            raise self.error(f"expected a domain such as 'items', found {domain.text!r}")
        if domain.value != "items":
            raise self.error(f"unsupported domain {domain.value!r}: only 'items' is emulated")
        self.advance()
        self.expect(".", "'.' after 'items'")
        self.expect("find", "'find'")
        self.expect("(", "'(' after 'find'")
        criteria = _Group("$and", ())
        if not self.accept(")"):
            raw = self.value()
            if not isinstance(raw, _Object):
                raise self.error("find() takes one criteria object", self.tokens[self.index - 1])
            criteria = self.compile_object(raw)
            self.expect(")", "')' to close find(")
        query = AqlQuery(criteria)
        seen: set[str] = set()
        while self.accept("."):
            name_token = self.current
            if name_token.kind != "ident":
                raise self.error(f"expected a modifier name, found {name_token.text!r}")
            name = name_token.value
            if name in seen:
                raise self.error(f"duplicate .{name}()", name_token)
            seen.add(name)
            self.advance()
            self.expect("(", f"'(' after '{name}'")
            query = self.modifier(query, name, name_token)
            self.expect(")", f"')' to close {name}(")
        self.accept(";")
        if self.current.kind != "eof":
            raise self.error(f"unexpected {self.current.text!r} after the query")
        return query

    def modifier(self, query: AqlQuery, name: str, token: _Token) -> AqlQuery:
        if name == "include":
            return _replace(query, include=self.include_list())
        if name == "sort":
            start = self.current
            raw = self.value()
            fields, desc = self.sort_spec(raw, start)
            return _replace(query, sort_fields=fields, sort_desc=desc)
        if name in ("offset", "limit"):
            number = self.current
            if number.kind != "number" or not isinstance(number.value, int) or number.value < 0:
                raise self.error(f"{name}() takes a non-negative integer, found {number.text!r}")
            self.advance()
            return _replace(query, **{name: number.value})
        raise self.error(f"unknown modifier .{name}()", token)

    def include_list(self) -> tuple[str, ...]:
        names: list[str] = []
        if self.current.kind == "punct" and self.current.value == ")":
            return ()
        while True:
            token = self.current
            if token.kind != "string":
                raise self.error(f"include() takes quoted field names, found {token.text!r}")
            self.advance()
            names.append(self.include_name(token))
            if not self.accept(","):
                return tuple(names)

    def include_name(self, token: _Token) -> str:
        name = str(token.value)
        if name.startswith("item."):
            name = name[5:]
        if name in ("property.*", "property.key", "property.value"):
            name = "property"
        if name == "stat.*":
            name = "stat"
        if name in _ITEM_FIELDS or name in ("property", "stat", "*"):
            return name
        if name.startswith("@") and len(name) > 1:
            return name
        raise self.error(f"unknown include field {name!r}", token)

    def sort_spec(self, raw: _Json, start: _Token) -> tuple[tuple[str, ...], bool]:
        if not isinstance(raw, _Object) or len(raw.pairs) != 1:
            raise self.error('sort() takes {"$asc": [...]} or {"$desc": [...]}', start)
        key, fields, offset = raw.pairs[0]
        if key not in ("$asc", "$desc"):
            raise self.lexer.error(f"sort direction must be $asc or $desc, not {key!r}", offset)
        if not isinstance(fields, list) or not fields:
            raise self.lexer.error("sort() takes a non-empty array of field names", offset)
        for name in fields:
            if not isinstance(name, str) or name not in _ITEM_FIELDS:
                raise self.lexer.error(f"cannot sort by {name!r}", offset)
        return tuple(str(f) for f in fields), key == "$desc"

    # JSON-ish values
    def value(self) -> _Json:
        token = self.current
        if token.kind in ("string", "number"):
            self.advance()
            return token.value  # type: ignore[no-any-return]
        if token.kind == "ident" and token.value in ("true", "false", "null"):
            self.advance()
            return {"true": True, "false": False, "null": None}[token.value]
        if self.accept("{"):
            return self.object_rest(token)
        if self.accept("["):
            return self.array_rest()
        raise self.error(f"expected a value, found {token.text!r}")

    def object_rest(self, open_token: _Token) -> _Object:
        obj = _Object([], open_token.offset)
        if self.accept("}"):
            return obj
        while True:
            key = self.current
            if key.kind != "string":
                raise self.error(f"expected a quoted field name, found {key.text!r}")
            self.advance()
            self.expect(":", f"':' after {key.text}")
            obj.pairs.append((str(key.value), self.value(), key.offset))
            if self.accept("}"):
                return obj
            self.expect(",", "',' or '}' in object")

    def array_rest(self) -> list[_Json]:
        items: list[_Json] = []
        if self.accept("]"):
            return items
        while True:
            items.append(self.value())
            if self.accept("]"):
                return items
            self.expect(",", "',' or ']' in array")

    # criteria
    def compile_object(self, obj: _Object) -> _Group:
        return _Group("$and", tuple(self.compile_pair(k, v, o) for k, v, o in obj.pairs))

    def compile_pair(self, key: str, value: _Json, offset: int) -> _Criterion:
        if key in ("$and", "$or"):
            members = value if isinstance(value, list) else [value]
            if not members or not all(isinstance(m, _Object) for m in members):
                raise self.lexer.error(f"{key} takes an array of criteria objects", offset)
            groups = tuple(self.compile_object(m) for m in members if isinstance(m, _Object))
            return _Group(key, groups)
        if key.startswith("$"):
            raise self.lexer.error(f"unknown operator {key!r} where a field was expected", offset)
        if key.startswith("item."):
            key = key[5:]
        if not key.startswith("@") and key not in _ITEM_FIELDS:
            raise self.lexer.error(f"unknown field {key!r}", offset)
        if key == "@":
            raise self.lexer.error("empty property key", offset)
        if isinstance(value, _Object):
            if not value.pairs:
                raise self.lexer.error(f"empty operator object for {key!r}", offset)
            compares = [self.compare(key, op, v, o) for op, v, o in value.pairs]
            return compares[0] if len(compares) == 1 else _Group("$and", tuple(compares))
        return self.compare(key, "$eq", value, offset)

    def compare(self, key: str, op: str, value: _Json, offset: int) -> _Compare:
        if op not in _OPERATORS:
            raise self.lexer.error(f"unknown operator {op!r} for {key!r}", offset)
        if value is None or isinstance(value, (bool, list, _Object)):
            raise self.lexer.error(f"{key!r} {op} takes a string or a number", offset)
        if key.startswith("@"):
            return _Compare(key, op, str(value) if not isinstance(value, str) else value)
        if op in ("$match", "$nmatch") and key not in _STRING_FIELDS:
            raise self.lexer.error(f"{op} works on text fields, not {key!r}", offset)
        if key in _NUMBER_FIELDS:
            return _Compare(key, op, self.number(key, value, offset))
        if key in _DATE_FIELDS:
            return _Compare(key, op, self.date(key, value, offset))
        text = str(value)
        if key == "type" and op in ("$eq", "$ne") and text not in ("file", "folder", "any"):
            raise self.lexer.error(f"type must be file, folder or any, not {text!r}", offset)
        return _Compare(key, op, text)

    def number(self, key: str, value: str | int | float, offset: int) -> float:
        try:
            return float(value)
        except ValueError:
            raise self.lexer.error(f"{key!r} takes a number, not {value!r}", offset) from None

    def date(self, key: str, value: str | int | float, offset: int) -> datetime:
        if isinstance(value, (int, float)):  # epoch milliseconds
            return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise self.lexer.error(
                f"{key!r} takes an ISO 8601 date, not {value!r}", offset
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _replace(query: AqlQuery, **changes: Any) -> AqlQuery:
    values = {name: getattr(query, name) for name in AqlQuery.__dataclass_fields__}
    values.update(changes)
    return AqlQuery(**values)


def parse(text: str) -> AqlQuery:
    """Parse AQL text into an `AqlQuery`.

    Raises:
        AqlError: the text is empty, does not parse, or uses an unknown field/operator.
    """
    if not text or not text.strip():
        raise AqlError("empty query")
    return _Parser(text).query()


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


def _matches(item: ItemLike, criterion: _Criterion) -> bool:
    if isinstance(criterion, _Group):
        results = (_matches(item, child) for child in criterion.children)
        return all(results) if criterion.op == "$and" else any(results)
    if criterion.field.startswith("@"):
        values = item.properties.get(criterion.field[1:], ())
        if criterion.op in ("$ne", "$nmatch"):
            positive = "$eq" if criterion.op == "$ne" else "$match"
            return not any(_test(positive, v, criterion.value) for v in values)
        return any(_test(criterion.op, v, criterion.value) for v in values)
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
    if "stat" in include:
        row["stats"] = [{"downloads": 0}]
    return row


def _sort_key(fields: Sequence[str]) -> Callable[[ItemLike], tuple[Any, ...]]:
    def key(item: ItemLike) -> tuple[Any, ...]:
        values = []
        for name in fields:
            value = _field_value(item, name)
            values.append((value is not None, value if value is not None else ""))
        return tuple(values)

    return key


def execute(query: AqlQuery, items: Iterable[ItemLike]) -> dict[str, Any]:
    """Run a parsed query over ``items``; return the JSON-able AQL response.

    The caller passes only the items the user may read (AQL filters silently).
    """
    criteria: _Criterion = query.criteria
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


def search(text: str, items: Iterable[ItemLike]) -> dict[str, Any]:
    """`parse` then `execute`."""
    return execute(parse(text), items)
