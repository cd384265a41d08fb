"""Projects of the Access API (``/access/api/v1/projects``): validation and the JSON a
project is answered with (pure).  A project is stored as that JSON.

Fields as JFrog documents them (``project_key``, ``display_name``, ``description``,
``admin_privileges``, ``storage_quota_bytes``, ``soft_limit``,
``storage_quota_email_notification``); defaults for what a request leaves out and the
error messages are ours (see docs/fidelity.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PRIVILEGES = (
    "manage_members",
    "manage_resources",
    "manage_security_assets",
    "index_resources",
    "allow_ignore_rules",
)
#: Lower-case letters and digits, starting with a letter (JFrog's documented limit is 32).
PROJECT_KEY = re.compile(r"^[a-z][a-z0-9]{1,31}$")
DEFAULTS: dict[str, Any] = {
    "description": "",
    "storage_quota_bytes": -1,
    "soft_limit": False,
    "storage_quota_email_notification": True,
}


class ProjectError(ValueError):
    """A request describes no valid project (the message says why)."""


def parse(body: Any, key: str, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The project a create (``existing`` None) or an update of project ``key`` describes."""
    if not isinstance(body, dict):
        raise ProjectError("The request body must be a JSON object")
    sent_key = body.get("project_key", key)
    if sent_key != key:
        raise ProjectError("project_key cannot be changed")
    if not isinstance(key, str) or not PROJECT_KEY.match(key):
        raise ProjectError(
            "project_key must be 2 to 32 lower-case letters or digits, starting with a letter"
        )
    project: dict[str, Any] = dict(existing) if existing is not None else {**DEFAULTS}
    project["project_key"] = key
    name = body.get("display_name", project.get("display_name"))
    if not isinstance(name, str) or not name.strip():
        raise ProjectError("display_name is required")
    project["display_name"] = name
    for field, kind in (
        ("description", str),
        ("storage_quota_bytes", int),
        ("soft_limit", bool),
        ("storage_quota_email_notification", bool),
    ):
        if field in body and body[field] is not None:
            value = body[field]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ProjectError(f"{field} has the wrong type")
            project[field] = value
    privileges = dict(project.get("admin_privileges") or dict.fromkeys(PRIVILEGES, False))
    sent = body.get("admin_privileges")
    if sent is not None:
        if not isinstance(sent, dict):
            raise ProjectError("admin_privileges must be an object")
        for name_, value in sent.items():
            if name_ not in PRIVILEGES or not isinstance(value, bool):
                raise ProjectError(f"admin_privileges.{name_} is not a known true/false privilege")
            privileges[name_] = value
    project["admin_privileges"] = privileges
    return project
