"""AQL tokenizer and parser for the ``items`` domain (pure, no I/O).

:func:`parse` turns ``items.find({...}).include(...).sort(...).offset(n).limit(n)``
text into an :class:`AqlQuery`; syntax and semantic errors raise :class:`AqlError`
whose message names the line, column and problem.  The evaluator is in
:mod:`fake_artifactory.core.aql.evaluate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Union

from fake_artifactory.core.aql.relative import RELATIVE_OPERATORS, parse_period

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
_OPERATORS = frozenset(
    {"$eq", "$ne", "$match", "$nmatch", "$gt", "$gte", "$lt", "$lte", *RELATIVE_OPERATORS}
)
_CHECKSUM_FIELDS = frozenset(
    {"sha256", "actual_sha1", "actual_md5", "original_sha1", "original_md5"}
)


class AqlError(ValueError):
    """The query does not parse or asks for something AQL does not allow.

    Attributes:
        detail: what is wrong.
        line, column: 1-based position of the problem in the query text (0 when unknown).
        offset: 0-based index of the problem in the query text (-1 when unknown).
    """

    def __init__(self, detail: str, line: int = 0, column: int = 0, offset: int = -1) -> None:
        self.detail = detail
        self.line = line
        self.column = column
        self.offset = offset
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(f"AQL error{where}: {detail}")


def failure_message(query: str, error: AqlError) -> str:
    """Artifactory's answer to a query it cannot parse: the whole query, then the rest of
    it from where parsing stopped (here: the start of the offending token), trimmed."""
    rest = query[error.offset :] if error.offset >= 0 else query
    return (
        f"Failed to parse query: {query}, it looks like there is syntax error near the "
        f"following sub-query: {rest.strip()}"
    )


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
        return AqlError(detail, *self.position(offset), offset=offset)

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
        if name == "transitive":  # reaches into remote repositories: none is emulated
            return query
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
        if name in _ITEM_FIELDS or name in ("property", "stat", "virtual_repos", "*"):
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
        if op in RELATIVE_OPERATORS:
            period = parse_period(value) if key in _DATE_FIELDS and isinstance(value, str) else None
            if period is None:
                raise self.lexer.error(f"{op} takes a date field and a period such as '3d'", offset)
            return _Compare(key, op, period)
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
