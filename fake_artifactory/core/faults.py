"""Deterministic fault injection: rules and their registry (pure: matching, counting,
seeded randomness).

A `FaultRule` says *which* requests it targets (method, path glob, repository,
operation), *when* it fires (from the ``nth`` matching call, ``times`` times, or with a
``probability`` drawn from the registry's seeded RNG) and *what* the client then sees:
an Artifactory-shaped error status (optionally with ``Retry-After``), added latency, a
slow body, a body truncated after N bytes, or a TCP reset before the response or in the
middle of the body.  `classify` names the operation of a request and `FaultRegistry`
keeps the rules in order.

The I/O shell is :class:`fake_artifactory.control.fault_middleware.FaultMiddleware`
(it breaks connections through the connection handler the emulator's server puts in
``environ[CONN_ENVIRON_KEY]``); the ``/_fake/faults`` endpoints are in
:mod:`fake_artifactory.control.views`.  See ``docs/faults.md`` for the rule format.
"""

from __future__ import annotations

import builtins
import dataclasses
import fnmatch
import itertools
import json
import logging
import os
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from fake_artifactory.core.uri import relative_path

log = logging.getLogger(__name__)

#: The WSGI environ key under which the server exposes its connection handler (attribute
#: ``socket``), so that a fault can reset or cut the connection.
CONN_ENVIRON_KEY = "fake_artifactory.conn"

#: Every operation name `classify` can return.
OPERATIONS = frozenset(
    {
        "deploy",
        "mkdir",
        "download",
        "head",
        "storage_info",
        "file_list",
        "properties",
        "delete",
        "aql",
        "copy",
        "move",
        "ping",
        "version",
        "repositories",
        "other",
    }
)
_RESET_MODES = ("before", "mid_body")
#: Reason phrases of injected error statuses.
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FaultError(ValueError):
    """A fault rule is malformed (unknown field, bad value, no action)."""


def _split_query(query: str) -> dict[str, str]:
    return {k: v for k, v in parse_qsl(query, keep_blank_values=True)}


def _storage_operation(method: str, params: Mapping[str, str]) -> str:
    if "properties" in params:
        return "properties"
    if "list" in params and method in ("GET", "HEAD"):
        return "file_list"
    return "storage_info"


def classify(
    method: str, raw_path: str, query: str = "", context_path: str = "/artifactory"
) -> tuple[str | None, str]:
    """Name the Artifactory operation a request performs, and its repository.

    Args:
        method: HTTP method (any case).
        raw_path: the request path as sent (percent-encoded, no query string).
        query: the raw query string, without ``?``.
        context_path: the emulator's context path, e.g. ``/artifactory``.

    Returns:
        ``(repo, operation)``; ``repo`` is None when the request names no repository.
        Requests outside the context path are ``(None, "other")``.
    """
    method = method.upper()
    rest = relative_path(raw_path, context_path)
    if rest is None:
        return None, "other"
    segments = rest.split("/")
    params = _split_query(query)
    if segments[0] != "api":
        repo = segments[0].split(";", 1)[0] or None
        if repo is None:
            return None, "other"
        if method == "PUT":
            return repo, ("mkdir" if rest.endswith("/") else "deploy")
        simple = {"GET": "download", "HEAD": "head", "DELETE": "delete"}
        return repo, simple.get(method, "other")
    section = segments[1] if len(segments) > 1 else ""
    target = segments[2] if len(segments) > 2 and segments[2] else None
    if section == "system" and target in ("ping", "version"):
        return None, target
    if section == "repositories":
        return target, "repositories"
    if section == "security" or (section == "v2" and target == "security"):
        return None, "security"
    if section == "search" and target == "aql":
        return None, "aql"
    if section in ("copy", "move"):
        return target, section
    if section == "storage" and target is not None:
        return target, _storage_operation(method, params)
    if section == "metadata" and target is not None:
        return target, "properties"
    return None, "other"


@dataclass
class FaultRule:
    """One fault: a match, a firing schedule and one or more actions.

    Match fields (all optional, all must hold): ``method`` (``"*"`` for any),
    ``path`` (an `fnmatch` glob over the decoded path below the context path, e.g.
    ``"example-repo-local/*.bin"`` or ``"api/storage/*"``; ``*`` also crosses ``/``),
    ``repo`` and ``operation`` (see `classify`).

    Schedule: the rule may fire from the ``nth`` matching call on (1-based), at most
    ``times`` times (None: unlimited), each time with ``probability`` (None: always)
    under the registry's seeded RNG. ``nth=3, times=1`` fails exactly the third call.

    Actions, applied in this order: ``delay_ms`` (sleep before answering); then one of
    ``status`` (an Artifactory error envelope with ``message`` and optional
    ``retry_after`` seconds), ``reset`` (``"before"``: RST instead of a response;
    ``"mid_body"``: real headers, ``truncate_after`` body bytes, or half the body when
    unset, then RST), ``truncate_after`` (real headers with the full Content-Length, N
    body bytes, then FIN); ``slow_body_bps`` throttles the real body (combinable with
    truncation and resets).
    """

    method: str = "*"
    path: str | None = None
    repo: str | None = None
    operation: str | None = None
    nth: int = 1
    times: int | None = None
    probability: float | None = None
    status: int | None = None
    message: str | None = None
    retry_after: int | None = None
    delay_ms: int = 0
    slow_body_bps: int | None = None
    truncate_after: int | None = None
    reset: str | None = None
    id: str | None = None
    matched: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        self.validate()

    def validate(self) -> None:
        """Raise `FaultError` when a field is out of range or the rule does nothing."""
        if self.operation is not None and self.operation not in OPERATIONS:
            raise FaultError(f"unknown operation {self.operation!r}; one of {sorted(OPERATIONS)}")
        if self.nth < 1:
            raise FaultError("nth must be >= 1")
        if self.times is not None and self.times < 0:
            raise FaultError("times must be >= 0")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise FaultError("probability must be between 0 and 1")
        if self.status is not None and not 100 <= self.status <= 599:
            raise FaultError("status must be an HTTP status code (100-599)")
        if self.reset is not None and self.reset not in _RESET_MODES:
            raise FaultError(f"reset must be one of {_RESET_MODES}")
        for name in ("delay_ms", "retry_after", "truncate_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise FaultError(f"{name} must be >= 0")
        if self.slow_body_bps is not None and self.slow_body_bps <= 0:
            raise FaultError("slow_body_bps must be > 0")
        if self.status is not None and self.reset is not None:
            raise FaultError("a rule cannot both answer with a status and reset")
        actions = (self.status, self.slow_body_bps, self.truncate_after, self.reset)
        if not self.delay_ms and all(a is None for a in actions):
            raise FaultError(
                "a fault rule needs an action: status, delay_ms, slow_body_bps, "
                "truncate_after or reset"
            )

    def matches(self, method: str, path: str, repo: str | None, operation: str) -> bool:
        """Return True when the request fits this rule's match fields (pure)."""
        if self.method != "*" and self.method != method.upper():
            return False
        if self.path is not None and not fnmatch.fnmatchcase(path, self.path.lstrip("/")):
            return False
        if self.repo is not None and self.repo != repo:
            return False
        return self.operation is None or self.operation == operation

    def to_dict(self) -> dict[str, Any]:
        """JSON form, with the ``matched``/``fired`` counters."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from its JSON form; unknown keys are an error (typos fail loudly).

        ``path_glob`` is accepted as an alias of ``path``. Counters are ignored.
        """
        known = {f.name for f in dataclasses.fields(cls)} - {"matched", "fired"}
        values = dict(data)
        if "path_glob" in values:
            values.setdefault("path", values.pop("path_glob"))
        values.pop("matched", None)
        values.pop("fired", None)
        unknown = sorted(set(values) - known)
        if unknown:
            raise FaultError(f"unknown fault rule field(s): {', '.join(unknown)}")
        try:
            return cls(**values)
        except TypeError as exc:
            raise FaultError(f"bad fault rule: {exc}") from exc


class FaultRegistry:
    """The emulator's fault rules, in insertion order; thread-safe and seeded.

    Args:
        seed: seed of the RNG behind ``probability``; the same seed and the same request
            sequence give the same faults.
    """

    def __init__(self, seed: int = 0, context_path: str = "/artifactory") -> None:
        self.context_path = context_path
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule | Mapping[str, Any]) -> str:
        """Register a rule (or its JSON form); return its id."""
        if not isinstance(rule, FaultRule):
            rule = FaultRule.from_dict(rule)
        with self._lock:
            rule.id = rule.id or f"f{next(self._ids)}"
            if any(r.id == rule.id for r in self._rules):
                raise FaultError(f"duplicate fault rule id {rule.id!r}")
            self._rules.append(rule)
        log.info("fault rule %s added", rule.id)
        return rule.id

    def list(self) -> list[FaultRule]:
        """Return copies of the rules (with their counters)."""
        with self._lock:
            return [dataclasses.replace(r, matched=r.matched, fired=r.fired) for r in self._rules]

    def remove(self, rule_id: str) -> bool:
        """Remove one rule; return False when no rule has that id."""
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    @property
    def seed(self) -> int:
        """The seed the RNG was last (re-)seeded with."""
        return self._seed

    def reseed(self, seed: int) -> None:
        """Re-seed the RNG with ``seed``; later :meth:`clear` calls re-seed with it too."""
        with self._lock:
            self._seed = seed
            self._rng = random.Random(seed)

    def clear(self) -> None:
        """Remove every rule and re-seed the RNG."""
        with self._lock:
            self._rules.clear()
            self._rng = random.Random(self._seed)

    def load_file(self, path: str | os.PathLike[str]) -> builtins.list[str]:
        """Add the rules of a JSON file (a list of rule objects, or one object)."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return self.load(data)

    def load(self, data: Any) -> builtins.list[str]:
        """Add one rule (a JSON object) or a list of them; return their ids."""
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(item, Mapping) for item in items):
            raise FaultError("fault rules must be JSON objects")
        rules = [FaultRule.from_dict(item) for item in items]
        return [self.add(rule) for rule in rules]

    def to_json(self) -> builtins.list[dict[str, Any]]:
        """JSON form of all rules."""
        return [rule.to_dict() for rule in self.list()]

    def match(self, method: str, raw_path: str, query: str = "") -> FaultRule | None:
        """Count this request against every matching rule; return the first that fires.

        Every matching rule counts the call (so ``nth`` is independent of other rules),
        but at most one rule fires per request.
        """
        if not self._rules:  # the usual case: no rules, nothing to count
            return None
        repo, operation = classify(method, raw_path, query, self.context_path)
        path = relative_path(raw_path, self.context_path)
        if path is None:
            path = unquote(raw_path).lstrip("/")
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path, repo, operation):
                    continue
                rule.matched += 1
                if chosen is not None or rule.matched < rule.nth:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.probability is not None and self._rng.random() >= rule.probability:
                    continue
                rule.fired += 1
                chosen = dataclasses.replace(rule, matched=rule.matched, fired=rule.fired)
        if chosen is not None:
            log.info("fault %s fires on %s %s", chosen.id, method, raw_path)
        return chosen
