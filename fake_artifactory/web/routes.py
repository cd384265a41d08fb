"""The emulator's REST API as one declarative route table.

Every request outside ``/_fake/`` reaches :func:`dispatch`, which matches the *raw*
(still percent-encoded) request path, after the context path, against :data:`ROUTES`
in order: the first row whose methods and pattern fit calls its view with the
pattern's named groups.  The raw path matters (see :mod:`fake_artifactory.core.uri`):
``%2F`` is not ``/`` and ``%3B`` is not ``;``.  ``/api/...`` always means the REST API,
so a repository named ``api`` is reached through ``/api/storage/api/...``; the last rows
of each section answer 501 for what the emulator does not implement, never a 200.
:data:`ACCESS_ROUTES` are the Access API, served outside the context path.

To add an endpoint: a row here, a view in the module of its resource, and a test.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, g, request

from fake_artifactory.core.auth import authenticate, require_authenticated
from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.uri import raw_path, split_context
from fake_artifactory.web import (
    access,
    archives,
    copymove,
    files,
    permissions,
    projects,
    repositories,
    search,
    security,
    storage,
    system,
    tokens,
)
from fake_artifactory.web.emulator import current_emulator

#: Every method Flask hands to :func:`dispatch` (others get Flask's 405).
ALL_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS")
ANY = "*"

View = Callable[..., Response]


@dataclass(frozen=True, slots=True)
class Route:
    """One row: the methods it serves (``*``: any), a pattern and a view."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    view: View

    def match(self, method: str, path: str) -> dict[str, Any] | None:
        """The view's keyword arguments when this row serves the request, else None."""
        if ANY not in self.methods and method not in self.methods:
            return None
        found = self.pattern.fullmatch(path)
        return None if found is None else found.groupdict()


def route(methods: str, pattern: str, view: View) -> Route:
    """A row serving ``methods`` (space-separated) on paths that fully match ``pattern``."""
    return Route(frozenset(methods.split()), re.compile(pattern, re.DOTALL), view)


#: A non-empty remainder (something other than slashes) after ``/api/<resource>/``.
_ITEM = r"(?P<tail>.*[^/].*)"
#: One name (a user, group or permission target) after ``/api/security/<kind>/``.
_NAME = r"(?P<name>[^/]+)/*"

ROUTES: tuple[Route, ...] = (
    # the context root
    route("GET HEAD", r"/?", system.root),
    route(ANY, r"/?", system.root_not_implemented),
    # system
    route("GET HEAD", r"/api/+system/+ping/*", system.ping),
    route("GET HEAD", r"/api/+system/+version/*", system.version),
    route("POST", r"/api/+system/+usage/*", system.usage),
    route("GET", r"/api/+v1/+uploads/config/*", system.uploads_config),
    # storage: item info, ?list, properties; metadata
    route("GET HEAD", rf"/api/+storage/{_ITEM}", storage.get),
    route("PUT", rf"/api/+storage/{_ITEM}", storage.set_properties),
    route("DELETE", rf"/api/+storage/{_ITEM}", storage.delete_properties),
    route(ANY, rf"(?P<rest>/api/+storage/{_ITEM})", storage.unsupported),
    route("PATCH", rf"/api/+metadata/{_ITEM}", storage.update_metadata),
    # search
    route("POST", r"/api/+search/+aql/*", search.search_aql),
    route("GET HEAD", r"/api/+search/+prop/*", search.search_properties),
    # copy and move
    route("POST", r"/api/+(?P<op>copy|move)(?:/(?P<tail>.*))?", copymove.copy_or_move),
    # archives (the explode deploy is a file deploy with a header)
    route("GET", r"/api/+archive/download/(?P<tail>.*)", archives.download_folder),
    # repositories
    route("GET HEAD", r"/api/+repositories/*", repositories.list_all),
    route("GET HEAD", r"/api/+repositories/(?P<key>.*[^/].*)", repositories.get),
    route("PUT", r"/api/+repositories/(?P<key>.*[^/].*)", repositories.create),
    route("POST", r"/api/+repositories/(?P<key>.*[^/].*)", repositories.update),
    route("DELETE", r"/api/+repositories/(?P<key>.*[^/].*)", repositories.delete),
    # security: users, groups, permission targets (v1 and v2)
    route("GET HEAD", r"/api/+security/+users/*", security.list_users),
    route("GET HEAD", rf"/api/+security/+users/{_NAME}", security.get_user),
    route("PUT", rf"/api/+security/+users/{_NAME}", security.put_user),
    route("POST", rf"/api/+security/+users/{_NAME}", security.post_user),
    route("DELETE", rf"/api/+security/+users/{_NAME}", security.delete_user),
    route("GET HEAD", r"/api/+security/+encryptedPassword/*", security.encrypted_password),
    route("GET HEAD", r"/api/+security/+groups/*", security.list_groups),
    route("GET HEAD", rf"/api/+security/+groups/{_NAME}", security.get_group),
    route("PUT", rf"/api/+security/+groups/{_NAME}", security.put_group),
    route("POST", rf"/api/+security/+groups/{_NAME}", security.post_group),
    route("DELETE", rf"/api/+security/+groups/{_NAME}", security.delete_group),
    route("GET HEAD", r"/api/+security/+permissions/*", permissions.list_v1),
    route("GET HEAD", rf"/api/+security/+permissions/{_NAME}", permissions.get_v1),
    route("PUT", rf"/api/+security/+permissions/{_NAME}", permissions.put_v1),
    route("DELETE", rf"/api/+security/+permissions/{_NAME}", permissions.delete_v1),
    route("GET HEAD", r"/api/+v2/+security/+permissions/*", permissions.list_v2),
    route("GET HEAD", rf"/api/+v2/+security/+permissions/{_NAME}", permissions.get_v2),
    route("POST", rf"/api/+v2/+security/+permissions/{_NAME}", permissions.post_v2),
    route("PUT", rf"/api/+v2/+security/+permissions/{_NAME}", permissions.put_v2),
    route("DELETE", rf"/api/+v2/+security/+permissions/{_NAME}", permissions.delete_v2),
    # any other /api/... endpoint or method
    route(ANY, r"(?P<rest>/api(?:/.*)?)", system.api_not_implemented),
    # everything else is a repository path: files and folders
    route("PUT", r"(?P<rest>.*)", files.deploy),
    route("GET HEAD", r"(?P<rest>.*)", files.retrieve),
    route("DELETE", r"(?P<rest>.*)", files.delete),
    route(ANY, r"(?P<rest>.*)", files.unsupported),
)

#: The Access API, matched on the whole raw path (it lives outside the context path).
ACCESS_ROUTES: tuple[Route, ...] = (
    route("POST", r"/access/api/v1/tokens", tokens.create),
    route("GET HEAD", r"/access/api/v1/tokens", tokens.list_all),
    route("POST", r"/access/api/v1/tokens/revoke", tokens.revoke_by_token),
    route("DELETE", r"/access/api/v1/tokens/(?P<token_id>[^/]+)", tokens.revoke_by_id),
    route("GET HEAD", r"/access/api/v1/projects/*", projects.list_all),
    route("POST", r"/access/api/v1/projects/*", projects.create),
    route("GET HEAD", r"/access/api/v1/projects/(?P<key>[^/]+)/*", projects.get),
    route("PUT", r"/access/api/v1/projects/(?P<key>[^/]+)/*", projects.update),
    route("DELETE", r"/access/api/v1/projects/(?P<key>[^/]+)/*", projects.delete),
    route(ANY, r"(?P<rest>/access/api(?:/.*)?)", access.not_implemented),
)


def _first(routes: Sequence[Route], method: str, path: str) -> Response | None:
    for row in routes:
        kwargs = row.match(method, path)
        if kwargs is not None:
            return row.view(**kwargs)
    return None


bp = Blueprint("fake_artifactory_api", __name__)


@bp.before_app_request
def _authenticate() -> None:
    """Resolve the caller of every request under the context path (``/api/system/ping``
    needs none); runs before routing decides anything, so a refused request never learns
    whether its endpoint exists."""
    emulator = current_emulator()
    config = emulator.config
    rest = split_context(raw_path(request.environ), config.context_path)
    g.fake_rest = rest
    if rest is None or rest.rstrip("/") == "/api/system/ping":
        return
    principal = authenticate(request.headers, emulator.directory)
    require_authenticated(principal, config)
    g.principal = principal


def dispatch(**_: Any) -> Response:
    """Route a request by its raw path (see the module docstring)."""
    method = request.method
    answer = _first(ACCESS_ROUTES, method, raw_path(request.environ))
    if answer is not None:
        return answer
    rest: str | None = g.get("fake_rest")
    if rest is None:
        raise HttpError(404, "Not Found")
    answer = _first(ROUTES, method, rest)
    if answer is None:  # the last row takes every method and path
        raise AssertionError(f"no route for {method} {rest!r}")
    return answer


bp.add_url_rule("/", "dispatch_root", dispatch, methods=list(ALL_METHODS))
bp.add_url_rule("/<path:_any>", "dispatch", dispatch, methods=list(ALL_METHODS))
