"""What a caller may do where: actions, Ant path patterns, grants and the :class:`Principal`.

Artifactory names the actions of a permission target twice: single letters in the v1
API (``r w n d m mxm x``) and words in v2 (``read write annotate delete manage
managedXrayMeta distribute``).  Inside the emulator an action is its v2 word, except
``write``, which the views (and the ``--user`` flag) call ``deploy``.  ``admin`` is no
action: it is a property of a user or of a group ("admin privileges") and allows
everything.  ``manage`` is not admin.

A :class:`Grant` is one permission target seen from one principal: the actions it gives,
on which repositories (``ANY``, ``ANY LOCAL``, ``ANY REMOTE`` or keys) and which paths
(Ant patterns: ``**`` any number of segments, ``*`` and ``?`` within one segment).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

ANY_REPO = "ANY"
ANY_LOCAL = "ANY LOCAL"
ANY_REMOTE = "ANY REMOTE"
#: Pseudo repository keys a permission target may name.
PSEUDO_REPOS = frozenset({ANY_REPO, ANY_LOCAL, ANY_REMOTE})

#: v1 letter -> v2 word, in the order Artifactory documents them.
LETTERS: dict[str, str] = {
    "r": "read",
    "w": "write",
    "n": "annotate",
    "d": "delete",
    "m": "manage",
    "mxm": "managedXrayMeta",
    "x": "distribute",
}
WORDS: dict[str, str] = {word: letter for letter, word in LETTERS.items()}
#: Every action, by the emulator's names (what admin implies, and more).
ACTIONS = frozenset(
    {"read", "deploy", "annotate", "delete", "manage", "managedXrayMeta", "distribute"}
)
#: The emulator's name of each v2 action word (the reverse of :func:`word_of`).
_INTERNAL = {"write": "deploy"}


def action_of_word(word: str) -> str:
    """The emulator's name of the v2 action ``word`` (``write`` -> ``deploy``)."""
    return _INTERNAL.get(word, word)


def word_of(action: str) -> str:
    """The v2 word of one of the emulator's action names (``deploy`` -> ``write``)."""
    return "write" if action == "deploy" else action


@lru_cache(maxsize=1024)
def ant_regex(pattern: str) -> re.Pattern[str]:
    """An Ant-style path pattern as a regular expression over repo-relative paths."""
    out = []
    i = 0
    pattern = pattern.strip().lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _literal_prefix(pattern: str) -> str:
    found = re.search(r"[*?]", pattern)
    return pattern if found is None else pattern[: found.start()]


def split_patterns(text: str) -> tuple[str, ...]:
    """The patterns of a v1 ``includesPattern``/``excludesPattern`` (comma separated)."""
    return tuple(p.strip() for p in text.split(",") if p.strip())


@dataclass(frozen=True, slots=True)
class Grant:
    """Actions allowed on some repositories and paths (one permission target, applied)."""

    actions: frozenset[str]
    repositories: frozenset[str] = frozenset({ANY_REPO})
    includes: tuple[str, ...] = ("**",)
    excludes: tuple[str, ...] = ()

    def covers_repo(self, repo: str | None) -> bool:
        """True for ``repo`` None (anywhere) or a repository the grant names.

        The emulator's repositories that hold items are all local, so ``ANY LOCAL``
        covers them; ``ANY REMOTE`` covers none.
        """
        if repo is None:
            return bool(self.repositories)
        return repo in self.repositories or bool(self.repositories & {ANY_REPO, ANY_LOCAL})

    def covers_path(self, path: str, action: str) -> bool:
        """True when ``path`` is included and not excluded.

        Reading may also reach a folder on the way to an included path (``a`` for
        ``a/b/**``), or listings would hide what the target grants.
        """
        if any(ant_regex(p).fullmatch(path) for p in self.excludes):
            return False
        for pattern in self.includes:
            if ant_regex(pattern).fullmatch(path):
                return True
            if action == "read":
                prefix = _literal_prefix(pattern.strip().lstrip("/"))
                if path == "" or prefix.startswith(path + "/"):
                    return True
        return False

    def allows(self, action: str, repo: str | None, path: str) -> bool:
        if action not in self.actions or not self.covers_repo(repo):
            return False
        return repo is None or self.covers_path(path, action)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user name, whether it is an admin, and its grants."""

    name: str
    admin: bool = False
    grants: tuple[Grant, ...] = ()

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS

    def can(self, action: str, repo: str | None = None, path: str = "") -> bool:
        """True when the caller may do ``action`` on ``repo:path``.

        ``repo`` None asks "anywhere"; ``admin`` is only true for admins.
        """
        if self.admin:
            return True
        if action == "admin":
            return False
        return any(g.allows(action, repo, path) for g in self.grants)


ANONYMOUS = "anonymous"


def everywhere(actions: Iterable[str]) -> Grant:
    """A grant of ``actions`` on every path of every repository."""
    return Grant(frozenset(actions))
