"""Pure core of copy and move: where things land and what the result says.

No storage or HTTP here.  :func:`parse_to` reads the ``to`` parameter,
:func:`resolve_target` applies the Unix rule (into an existing folder, else rename),
:func:`rebase` maps every source item to its target path and :func:`result_message`
words the CopyOrMoveResult line.
"""

from __future__ import annotations

from dataclasses import dataclass

from fake_artifactory.core.errors import InvalidCopy, InvalidRawPath
from fake_artifactory.core.records import name_of
from fake_artifactory.core.uri import validate_path

CONTENT_TYPE = "application/vnd.org.jfrog.artifactory.storage.CopyOrMoveResult+json"


@dataclass(frozen=True, slots=True)
class CopyOutcome:
    """What a copy or move did (or, for a dry run, would do)."""

    target_path: str
    files: int
    folders: int
    overwrites: int


def parse_to(value: str) -> tuple[str, str, bool]:
    """``/repo/a/b[/]`` (already query-decoded) -> (repo, path, into-folder).

    Empty and ``.`` segments are dropped; ``..`` and other invalid names raise
    InvalidRawPath (they are never resolved).
    """
    stripped = value.strip()
    into = stripped.endswith("/")
    segments = [s for s in stripped.split("/") if s not in ("", ".")]
    if not segments:
        raise InvalidRawPath("Invalid target: the 'to' parameter names no repository")
    repo, path = segments[0], "/".join(segments[1:])
    validate_path(repo)
    validate_path(path)
    return repo, path, into


def resolve_target(
    src_path: str, dst_path: str, *, dst_is_folder: bool, dst_exists: bool, into: bool
) -> str:
    """Final target path: inside ``dst_path`` when it is an existing folder (or the
    request asked for a folder with a trailing slash), else ``dst_path`` itself."""
    if src_path == "":
        return dst_path
    if (dst_exists and dst_is_folder) or into or dst_path == "":
        return f"{dst_path}/{name_of(src_path)}" if dst_path else name_of(src_path)
    return dst_path


def check_not_into_itself(
    src_repo: str, src_path: str, dst_repo: str, target: str, *, src_is_folder: bool
) -> None:
    """Copying or moving a folder into itself (or an item onto itself) is refused."""
    if src_repo != dst_repo:
        return
    if target == src_path:
        raise InvalidCopy(f"Cannot copy/move '{src_repo}:{src_path}' onto itself")
    if src_is_folder and (src_path == "" or target.startswith(src_path + "/")):
        raise InvalidCopy(
            f"Cannot copy/move folder '{src_repo}:{src_path}' into its own sub-folder "
            f"'{dst_repo}:{target}'"
        )


def rebase(path: str, src_path: str, target: str) -> str:
    """Target path of ``path`` (``src_path`` or below it) once ``src_path`` maps to ``target``."""
    if path == src_path:
        return target
    rel = path[len(src_path) + 1 :] if src_path else path
    return f"{target}/{rel}" if target else rel


def result_message(op: str, src: str, dst: str, outcome: CopyOutcome, *, dry: bool) -> str:
    """``copying r1:a to r2:b completed successfully, 1 artifacts and 0 folders were copied``."""
    verb, past = ("moving", "moved") if op == "move" else ("copying", "copied")
    text = (
        f"{verb} {src} to {dst} completed successfully, {outcome.files} artifacts and "
        f"{outcome.folders} folders were {past}"
    )
    return f"Dry run for {text}" if dry else text
