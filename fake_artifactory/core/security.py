"""Users, groups and permission targets: the one permission model (pure).

Every caller's permissions come from here, whoever created the user:

* a ``--user NAME:PASSWORD:PERMS`` user is a *configured* user: stored like any other
  (so the security API lists it and groups can hold it), its password and admin flag
  come from the command line on every start (the password is never stored), and its
  PERMS act as an *implicit permission target* on every repository
  (:func:`implicit_targets`);
* ``--anonymous read|write`` is an implicit target for the user ``anonymous``;
* users, groups and permission targets created through the REST API are stored records.

A principal's grants are the targets that name it or one of its groups; it is an admin
when its user record says so or one of its groups has admin privileges.
:class:`SecurityState` is one consistent copy of everything, with principals memoised.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from fake_artifactory.config import UserSpec
from fake_artifactory.core.permissions import ANONYMOUS, ANY_REPO, Grant, Principal

#: Kinds of the documents the store keeps (one table, ``(kind, name) -> JSON``).
USER, GROUP, PERMISSION, PROJECT = "user", "group", "permission", "project"
KINDS = (USER, GROUP, PERMISSION, PROJECT)

#: Boolean fields of a user and their defaults (JSON names, as Artifactory's model).
USER_FLAGS: dict[str, bool] = {
    "admin": False,
    "profileUpdatable": True,
    "disableUIAccess": False,
    "internalPasswordDisabled": False,
    "watchManager": False,
    "reportsManager": False,
    "policyManager": False,
}
#: Boolean fields of a group and their defaults.
GROUP_FLAGS: dict[str, bool] = {
    "autoJoin": False,
    "adminPrivileges": False,
    "watchManager": False,
    "policyManager": False,
    "reportsManager": False,
}


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user; ``password_hash`` is empty for configured users (their password is the
    command line's) and for users without an internal password."""

    name: str
    email: str = ""
    password_hash: str = field(default="", repr=False)
    flags: Mapping[str, bool] = field(default_factory=lambda: dict(USER_FLAGS))
    groups: tuple[str, ...] = ()
    realm: str = "internal"
    configured: bool = False

    @property
    def admin(self) -> bool:
        return bool(self.flags.get("admin"))


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A group; its members are the users whose ``groups`` name it."""

    name: str
    description: str = ""
    flags: Mapping[str, bool] = field(default_factory=lambda: dict(GROUP_FLAGS))
    realm: str = "internal"
    realm_attributes: str = ""


@dataclass(frozen=True, slots=True)
class PermissionTarget:
    """A permission target's repository part (actions are the emulator's names, in the
    order they were given); ``sections`` keeps v2 ``build``/``releaseBundle`` parts as
    sent (stored and returned, not enforced)."""

    name: str
    repositories: tuple[str, ...] = ()
    includes: tuple[str, ...] = ("**",)
    excludes: tuple[str, ...] = ()
    users: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sections: Mapping[str, Any] = field(default_factory=dict)
    implicit: bool = False

    def grant(self, actions: Iterable[str]) -> Grant:
        return Grant(frozenset(actions), frozenset(self.repositories), self.includes, self.excludes)


def implicit_targets(users: Sequence[UserSpec], anonymous: str) -> tuple[PermissionTarget, ...]:
    """The targets the command line implies: one per configured user (its PERMS on every
    repository; ``admin`` is the user's flag, not an action) and one for anonymous."""
    found = []
    for spec in users:
        actions = tuple(sorted(p for p in spec.perms if p != "admin"))
        if actions:
            found.append(
                PermissionTarget(
                    f"--user {spec.name}", (ANY_REPO,), users={spec.name: actions}, implicit=True
                )
            )
    anon = {"read": ("read",), "write": ("read", "deploy", "delete", "annotate")}.get(anonymous)
    if anon:
        found.append(
            PermissionTarget("--anonymous", (ANY_REPO,), users={ANONYMOUS: anon}, implicit=True)
        )
    return tuple(found)


class SecurityState:
    """Users, groups, permission targets and projects at one moment, plus the implicit
    targets; resolves principals (memoised: the state never changes)."""

    def __init__(
        self,
        users: Mapping[str, UserRecord],
        groups: Mapping[str, GroupRecord],
        targets: Mapping[str, PermissionTarget],
        projects: Mapping[str, Mapping[str, Any]],
        implicit: Sequence[PermissionTarget] = (),
        configured_admins: frozenset[str] = frozenset(),
    ) -> None:
        self.users = users
        self.groups = groups
        self.targets = targets
        self.projects = projects
        self.implicit = tuple(implicit)
        self.configured_admins = configured_admins
        self._principals: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def members(self, group: str) -> list[str]:
        """The users in ``group``, sorted."""
        return sorted(u.name for u in self.users.values() if group in u.groups)

    def principal(self, name: str) -> Principal:
        """The permissions of user ``name`` (known or not: an unknown name has only the
        grants that name it)."""
        found = self._principals.get(name)
        if found is None:
            found = self._resolve(name)
            with self._lock:
                self._principals[name] = found
        return found

    def _resolve(self, name: str) -> Principal:
        user = self.users.get(name)
        groups = set(user.groups) if user is not None else set()
        admin = name in self.configured_admins or (
            user is not None and user.admin and not user.configured
        )
        admin = admin or any(
            self.groups[g].flags.get("adminPrivileges") for g in groups if g in self.groups
        )
        grants = []
        for target in (*self.implicit, *self.targets.values()):
            actions: list[str] = list(target.users.get(name, ()))
            for group in groups:
                actions.extend(target.groups.get(group, ()))
            if actions:
                grants.append(target.grant(actions))
        return Principal(name, admin, tuple(grants))

    @property
    def anonymous(self) -> Principal:
        return self.principal(ANONYMOUS)


# -- consequences of a change (what else changes with it) ----------------------------------

#: One document change: kind, name and the new document (None: delete).
Change = tuple[str, str, "dict[str, Any] | None"]


def without_user(state: SecurityState, name: str) -> list[Change]:
    """Removing a user also removes it from every permission target."""
    return [
        (PERMISSION, t.name, target_doc(replace(t, users=_drop(t.users, name))))
        for t in state.targets.values()
        if name in t.users
    ]


def without_group(state: SecurityState, name: str) -> list[Change]:
    """Removing a group removes it from its members and from every permission target."""
    changes: list[Change] = [
        (USER, u.name, user_doc(replace(u, groups=tuple(g for g in u.groups if g != name))))
        for u in state.users.values()
        if name in u.groups
    ]
    changes += [
        (PERMISSION, t.name, target_doc(replace(t, groups=_drop(t.groups, name))))
        for t in state.targets.values()
        if name in t.groups
    ]
    return changes


def without_repository(state: SecurityState, key: str) -> list[Change]:
    """Removing a repository removes its key from every permission target."""
    return [
        (PERMISSION, t.name, target_doc(replace(t, repositories=_without(t.repositories, key))))
        for t in state.targets.values()
        if key in t.repositories
    ]


def with_members(state: SecurityState, group: str, names: Iterable[str]) -> list[Change]:
    """Make exactly ``names`` the members of ``group`` (unknown names are ignored)."""
    wanted = set(names)
    changes: list[Change] = []
    for user in state.users.values():
        inside = group in user.groups
        if (user.name in wanted) != inside:
            groups = (*user.groups, group) if not inside else _without(user.groups, group)
            changes.append((USER, user.name, user_doc(replace(user, groups=groups))))
    return changes


def _drop(mapping: Mapping[str, tuple[str, ...]], key: str) -> dict[str, tuple[str, ...]]:
    return {k: v for k, v in mapping.items() if k != key}


def _without(values: tuple[str, ...], value: str) -> tuple[str, ...]:
    return tuple(v for v in values if v != value)


# -- documents (what the store and snapshots keep) -----------------------------------------


def user_doc(user: UserRecord) -> dict[str, Any]:
    return {
        "name": user.name,
        "email": user.email,
        "salted_hash": user.password_hash,
        "flags": dict(user.flags),
        "groups": list(user.groups),
        "realm": user.realm,
        "configured": user.configured,
    }


def group_doc(group: GroupRecord) -> dict[str, Any]:
    return {
        "name": group.name,
        "description": group.description,
        "flags": dict(group.flags),
        "realm": group.realm,
        "realm_attributes": group.realm_attributes,
    }


def target_doc(target: PermissionTarget) -> dict[str, Any]:
    return {
        "name": target.name,
        "repositories": list(target.repositories),
        "includes": list(target.includes),
        "excludes": list(target.excludes),
        "users": {k: list(v) for k, v in target.users.items()},
        "groups": {k: list(v) for k, v in target.groups.items()},
        "sections": dict(target.sections),
    }


def user_of(doc: Mapping[str, Any]) -> UserRecord:
    return UserRecord(
        name=str(doc["name"]),
        email=str(doc.get("email", "")),
        password_hash=str(doc.get("salted_hash", "")),
        flags={**USER_FLAGS, **{k: bool(v) for k, v in dict(doc.get("flags", {})).items()}},
        groups=tuple(str(g) for g in doc.get("groups", ())),
        realm=str(doc.get("realm", "internal")),
        configured=bool(doc.get("configured", False)),
    )


def group_of(doc: Mapping[str, Any]) -> GroupRecord:
    return GroupRecord(
        name=str(doc["name"]),
        description=str(doc.get("description", "")),
        flags={**GROUP_FLAGS, **{k: bool(v) for k, v in dict(doc.get("flags", {})).items()}},
        realm=str(doc.get("realm", "internal")),
        realm_attributes=str(doc.get("realm_attributes", "")),
    )


def target_of(doc: Mapping[str, Any]) -> PermissionTarget:
    def principals(key: str) -> dict[str, tuple[str, ...]]:
        return {str(k): tuple(str(a) for a in v) for k, v in dict(doc.get(key, {})).items()}

    return PermissionTarget(
        name=str(doc["name"]),
        repositories=tuple(str(r) for r in doc.get("repositories", ())),
        includes=tuple(str(p) for p in doc.get("includes", ("**",))),
        excludes=tuple(str(p) for p in doc.get("excludes", ())),
        users=principals("users"),
        groups=principals("groups"),
        sections=dict(doc.get("sections", {})),
    )


def state_of(
    docs: Mapping[str, Mapping[str, Mapping[str, Any]]],
    implicit: Sequence[PermissionTarget] = (),
    configured_admins: frozenset[str] = frozenset(),
) -> SecurityState:
    """The state held in ``docs`` (kind -> name -> document)."""
    return SecurityState(
        users={n: user_of(d) for n, d in docs.get(USER, {}).items()},
        groups={n: group_of(d) for n, d in docs.get(GROUP, {}).items()},
        targets={n: target_of(d) for n, d in docs.get(PERMISSION, {}).items()},
        projects=dict(docs.get(PROJECT, {})),
        implicit=implicit,
        configured_admins=configured_admins,
    )


def configured_user(spec: UserSpec, stored: UserRecord | None) -> UserRecord:
    """The stored record of a configured user: what the API set on it (email, groups)
    is kept; its admin flag is the command line's and no password is stored."""
    base = stored if stored is not None else UserRecord(spec.name)
    flags = {**base.flags, "admin": "admin" in spec.perms}
    return replace(base, password_hash="", flags=flags, configured=True)


def admit_snapshot(
    entries: Iterable[tuple[str, str, dict[str, Any]]], configured: Sequence[UserSpec]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The security documents a snapshot import may store (the users' and groups' part of
    :func:`fake_artifactory.store.snapshot.drop_admin_grants`): nothing imported is an
    admin.

    Configured users are this emulator's, not the snapshot's: a snapshot's user of that
    name keeps only its email and groups, and a user another emulator's command line
    configured is left out (no password of it was ever stored: it could not log in).
    Any other user it brings is not an admin, and a group it brings has no admin
    privileges.
    """
    specs = {s.name: s for s in configured}
    admitted = []
    for kind, name, doc in entries:
        if kind == USER:
            user = user_of(doc)
            if name in specs:
                user = configured_user(specs[name], user)
            elif user.configured:
                continue
            else:
                user = replace(user, flags={**user.flags, "admin": False})
            doc = user_doc(user)
        elif kind == GROUP:
            group = group_of(doc)
            doc = group_doc(replace(group, flags={**group.flags, "adminPrivileges": False}))
        admitted.append((kind, name, doc))
    return admitted
