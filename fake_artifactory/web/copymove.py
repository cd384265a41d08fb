"""``POST /api/copy|move/{repo}/{path}?to=/{dstRepo}/{dstPath}`` (Pro).

Query flags: ``dry``, ``suppressLayouts`` (accepted; generic repositories have no
layouts), ``failFast`` and ``atomic`` (accepted; the emulator always works in one
transaction, so nothing is ever half done).  Answers a CopyOrMoveResult: 200 with an
INFO message, or a 4xx with an ERROR message.
"""

from __future__ import annotations

from flask import Response, request

from fake_artifactory.core import copymove
from fake_artifactory.core.auth import Principal, require
from fake_artifactory.core.errors import HttpError, InvalidRawPath, StorageError, status_for
from fake_artifactory.core.uri import parse_repo_request
from fake_artifactory.web.context import flag, json_response, principal, require_pro
from fake_artifactory.web.emulator import current_emulator


def _result(level: str, message: str, status: int) -> Response:
    body = {"messages": [{"level": level, "message": message}]}
    return json_response(body, copymove.CONTENT_TYPE, status)


def _permission_refused(
    who: Principal, perm: str, message: str, repo: str, path: str
) -> Response | None:
    try:
        require(who, perm, message, repo, path)
    except HttpError as exc:
        if exc.status == 403:
            return _result("ERROR", message, 403)
        raise
    return None


def copy_or_move(op: str, tail: str | None) -> Response:
    """Copy or move ``tail`` (raw ``repo/path``) to the ``to`` query parameter."""
    require_pro()
    src = parse_repo_request("/" + (tail or ""))
    raw_to = request.args.get("to")
    if not raw_to:
        return _result("ERROR", "Missing required query parameter 'to'", 400)
    try:
        dst_repo, dst_path, into = copymove.parse_to(raw_to)
    except InvalidRawPath as exc:
        return _result("ERROR", exc.message, 400)
    who = principal()
    src_name, dst_name = f"{src.repo}:{src.path}", f"{dst_repo}:{dst_path}"
    store = current_emulator().store
    if not store.has_repo(src.repo):
        return _result("ERROR", f"Repository {src.repo} does not exist", 404)
    if not store.has_repo(dst_repo):
        return _result("ERROR", f"Target repository {dst_repo} does not exist", 404)
    target = store.get_repo(dst_repo)
    if target is not None and target.rclass != "local":
        return _result("ERROR", f"Target repository {dst_repo} is not a local repository", 400)
    source, destination = (src.repo, src.path), (dst_repo, dst_path)
    checks = [
        ("read", f"User {who.name} is not permitted to read '{src_name}'.", source),
        ("deploy", f"User {who.name} is not permitted to deploy into '{dst_name}'.", destination),
    ]
    if op == "move":
        checks.append(
            ("delete", f"User {who.name} is not permitted to delete '{src_name}'.", source)
        )
    for perm, message, (repo, path) in checks:
        refused = _permission_refused(who, perm, message, repo, path)
        if refused is not None:
            return refused

    def run(dry: bool) -> copymove.CopyOutcome:
        return store.copy_tree(
            src.repo,
            src.path,
            dst_repo,
            dst_path,
            move=op == "move",
            user=who.name,
            into=into,
            dry=dry,
        )

    try:
        plan = run(True)
        if plan.overwrites:
            refused = _permission_refused(
                who,
                "delete",
                f"User {who.name} needs DELETE permission to overwrite items under "
                f"'{dst_repo}:{plan.target_path}'.",
                dst_repo,
                plan.target_path,
            )
            if refused is not None:
                return refused
        dry = flag("dry")
        outcome = plan if dry else run(False)
    except StorageError as exc:
        message = exc.message
        if message == "Unable to find item":
            message = f"Could not find item '{src_name}' to {op}"
        return _result("ERROR", message, status_for(exc))
    text = copymove.result_message(
        op, src_name, f"{dst_repo}:{outcome.target_path}", outcome, dry=dry
    )
    return _result("INFO", text, 200)
