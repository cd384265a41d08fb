"""The security API's wire formats: users, groups, permission targets v1 and v2 (pure).

Parsing validates what a request sends and raises :class:`HttpError` (400, messages of
the real server where known, see docs/fidelity.md); rendering never includes a password
or its hash.  Field names and defaults follow Artifactory's JSON models
(``UserConfigurationImpl``, ``GroupConfigurationImpl``, ``PermissionTargetConfigurationImpl``,
``PermissionTargetModel``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.permissions import (
    LETTERS,
    PSEUDO_REPOS,
    WORDS,
    action_of_word,
    split_patterns,
    word_of,
)
from fake_artifactory.core.security import (
    GROUP_FLAGS,
    USER_FLAGS,
    GroupRecord,
    PermissionTarget,
    SecurityState,
    UserRecord,
)

USER_TYPE = "application/vnd.org.jfrog.artifactory.security.User+json"
USERS_TYPE = "application/vnd.org.jfrog.artifactory.security.Users+json"
GROUP_TYPE = "application/vnd.org.jfrog.artifactory.security.Group+json"
GROUPS_TYPE = "application/vnd.org.jfrog.artifactory.security.Groups+json"
TARGET_TYPE = "application/vnd.org.jfrog.artifactory.security.PermissionTarget+json"
TARGETS_TYPE = "application/vnd.org.jfrog.artifactory.security.PermissionTargets+json"
TARGET_V2_TYPE = "application/vnd.org.jfrog.artifactory.security.PermissionTargetV2+json"


def _bad(message: str) -> HttpError:
    return HttpError(400, message)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object")
    return body


def _string(body: Mapping[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise _bad(f"'{key}' must be a string")
    return value


def _strings(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(f"'{what}' must be a list of strings")
    return list(dict.fromkeys(value))


def _flags(
    body: Mapping[str, Any], defaults: Mapping[str, bool], base: Mapping[str, bool]
) -> dict[str, bool]:
    flags = dict(base)
    for key in defaults:
        if key in body and body[key] is not None:
            if not isinstance(body[key], bool):
                raise _bad(f"'{key}' must be true or false")
            flags[key] = body[key]
    return flags


def _known_groups(groups: Sequence[str], state: SecurityState) -> tuple[str, ...]:
    for group in groups:
        if group not in state.groups:
            raise _bad(f"Group '{group}' does not exist")
    return tuple(groups)


# -- users ---------------------------------------------------------------------------------


def parse_user(
    name: str, raw: Any, existing: UserRecord | None, state: SecurityState
) -> tuple[UserRecord, str | None]:
    """The user a PUT (``existing`` None: create or replace) or POST (update) describes,
    and the new password if one was sent (the caller hashes it)."""
    body = _object(raw)
    creating = existing is None
    base = existing if existing is not None else UserRecord(name)
    email = _string(body, "email", base.email)
    password = body.get("password")
    if password is not None and (not isinstance(password, str) or not password):
        raise _bad("'password' must be a non-empty string")
    if creating and not email:
        raise _bad("Email is required")
    flags = _flags(body, USER_FLAGS, base.flags)
    if creating and password is None and not flags["internalPasswordDisabled"]:
        raise _bad("Password is required")
    groups = base.groups
    if "groups" in body and body["groups"] is not None:
        groups = _known_groups(_strings(body["groups"], "groups"), state)
    user = replace(base, email=email, flags=flags, groups=groups)
    return user, password


def user_json(user: UserRecord) -> dict[str, Any]:
    """``GET /api/security/users/{name}``: never a password; no ``groups`` key when the
    user is in none (as Artifactory answers)."""
    body: dict[str, Any] = {"name": user.name, "email": user.email}
    body.update(user.flags)
    if user.groups:
        body["groups"] = list(user.groups)
    # ``shouldInvite`` (invite by email, a create-time choice) reads back false, as
    # jfrog-client-go's user tests against a real server expect.
    body.update(realm=user.realm, offlineMode=False, shouldInvite=False)
    return body


# -- groups --------------------------------------------------------------------------------


def parse_group(name: str, raw: Any, existing: GroupRecord | None) -> tuple[GroupRecord, Any]:
    """The group a PUT or POST describes, and the ``userNames`` sent (None if absent)."""
    body = _object(raw)
    base = existing if existing is not None else GroupRecord(name)
    flags = _flags(body, GROUP_FLAGS, base.flags)
    if flags["autoJoin"] and flags["adminPrivileges"]:
        raise _bad("A group with admin privileges cannot be joined automatically (autoJoin)")
    group = replace(
        base,
        description=_string(body, "description", base.description),
        flags=flags,
        realm_attributes=_string(body, "realmAttributes", base.realm_attributes),
    )
    members = body.get("userNames")
    if members is not None:
        members = _strings(members, "userNames")
    return group, members


def group_json(group: GroupRecord, members: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"name": group.name, "description": group.description}
    body.update(group.flags)
    body["realm"] = group.realm
    if group.realm_attributes:
        body["realmAttributes"] = group.realm_attributes
    if members is not None:
        body["userNames"] = members
    return body


# -- permission targets --------------------------------------------------------------------


def _actions(value: Any, names: Mapping[str, str], what: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _bad(f"The actions of '{what}' must be a list")
    found = []
    for action in value:
        if action not in names:
            raise _bad(f"Unknown permission '{action}' for '{what}'")
        found.append(action_of_word(names[action]))
    return tuple(dict.fromkeys(found))


def _principals(value: Any, names: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad("Principals must map names to lists of permissions")
    return {str(who): _actions(acts, names, who) for who, acts in value.items()}


def parse_target_v1(name: str, raw: Any) -> PermissionTarget:
    """``PUT /api/security/permissions/{name}`` (letters ``r w n d m mxm x``)."""
    body = _object(raw)
    repos = body.get("repositories")
    if repos is None:
        raise _bad("Permission target request missing repositories.")
    principals = body.get("principals") or {}
    if not isinstance(principals, dict):
        raise _bad("'principals' must be an object")
    return PermissionTarget(
        name=name,
        repositories=tuple(_strings(repos, "repositories")),
        includes=split_patterns(_string(body, "includesPattern", "**")) or ("**",),
        excludes=split_patterns(_string(body, "excludesPattern")),
        users=_principals(principals.get("users"), LETTERS),
        groups=_principals(principals.get("groups"), LETTERS),
    )


def target_v1_json(target: PermissionTarget) -> dict[str, Any]:
    def letters(mapping: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
        return {who: [WORDS[word_of(a)] for a in acts] for who, acts in mapping.items()}

    return {
        "name": target.name,
        "includesPattern": ",".join(target.includes),
        "excludesPattern": ",".join(target.excludes),
        "repositories": list(target.repositories),
        "principals": {"users": letters(target.users), "groups": letters(target.groups)},
    }


#: v2 sections besides ``repo`` (kept as sent, not enforced).
OTHER_SECTIONS = ("build", "releaseBundle")
_V2_WORDS = {word: word for word in WORDS}


def _patterns(section: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = section.get(key)
    return () if value is None else tuple(p for p in _strings(value, key) if p)


def parse_target_v2(name: str, raw: Any) -> PermissionTarget:
    """``POST``/``PUT /api/v2/security/permissions/{name}``."""
    body = _object(raw)
    if "name" in body and body["name"] != name:
        raise HttpError(
            409,
            "The permission target name that was provided in the request path does not "
            "match the permission name in the provided permission configuration object.",
        )
    repo = body.get("repo")
    sections = {k: body[k] for k in OTHER_SECTIONS if isinstance(body.get(k), dict)}
    if repo is None and not sections:
        raise _bad(
            "Permission target request missing repositories, builds and release bundles. "
            "Must have at least one."
        )
    build = sections.get("build")
    if build is not None and build.get("repositories") not in (None, ["artifactory-build-info"]):
        raise _bad(
            "Build permission target repositories list must contain artifactory-build-info "
            "as the only repository key"
        )
    if repo is None:
        return PermissionTarget(name=name, sections=sections)
    if not isinstance(repo, dict):
        raise _bad("'repo' must be an object")
    if repo.get("repositories") is None:
        raise _bad("Permission target request missing repositories.")
    actions = repo.get("actions") or {}
    if not isinstance(actions, dict):
        raise _bad("'actions' must be an object")
    return PermissionTarget(
        name=name,
        repositories=tuple(_strings(repo["repositories"], "repositories")),
        includes=_patterns(repo, "include-patterns") or ("**",),
        excludes=_patterns(repo, "exclude-patterns"),
        users=_principals(actions.get("users"), _V2_WORDS),
        groups=_principals(actions.get("groups"), _V2_WORDS),
        sections=sections,
    )


def target_v2_json(target: PermissionTarget) -> dict[str, Any]:
    def words(mapping: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
        return {who: [word_of(a) for a in acts] for who, acts in mapping.items()}

    # Empty ``users``/``groups`` maps are left out, and a build or release-bundle section
    # gets the same pattern defaults as ``repo``: jfrog-client-go's permission target
    # test, run against a real server, reads back exactly that (checked for ``build``).
    actions: dict[str, Any] = {}
    if target.users:
        actions["users"] = words(target.users)
    if target.groups:
        actions["groups"] = words(target.groups)
    body: dict[str, Any] = {
        "name": target.name,
        "repo": {
            "include-patterns": list(target.includes),
            "exclude-patterns": list(target.excludes),
            "repositories": list(target.repositories),
            "actions": actions,
        },
    }
    for key, section in target.sections.items():
        body[key] = {
            "include-patterns": section.get("include-patterns") or ["**"],
            "exclude-patterns": section.get("exclude-patterns") or [],
            **{
                k: v
                for k, v in section.items()
                if k not in ("include-patterns", "exclude-patterns")
            },
        }
    return body


def check_target(target: PermissionTarget, state: SecurityState, repos: Sequence[str]) -> None:
    """What Artifactory refuses in a permission target (unknown repositories, users or
    groups; admins, who need no permission target)."""
    known = set(repos)
    for key in target.repositories:
        if key not in known and key not in PSEUDO_REPOS:
            raise _bad(
                f"Permission target contains a reference to a non-existing repository '{key}'."
            )
    for name in target.users:
        user = state.users.get(name)
        if user is None and name != "anonymous":
            raise _bad(f"Permission target contains a reference to a non-existing user '{name}'.")
        if state.principal(name).admin:
            raise _bad(
                f"The user: '{name}' has admin privileges, and cannot be added to a "
                "Permission Target."
            )
    for name, _ in target.groups.items():
        group = state.groups.get(name)
        if group is None:
            raise _bad(f"Permission target contains a reference to a non-existing group '{name}'.")
        if group.flags.get("adminPrivileges"):
            raise _bad(
                f"Group '{name}' has admin privileges, and cannot be added to a Permission Target."
            )
