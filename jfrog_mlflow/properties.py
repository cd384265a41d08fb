"""Artifactory properties that say where an artifact came from (pure: no I/O, no MLflow).

Every file the plugin deploys carries properties, so Artifactory users can find, clean up
and scan MLflow's files the way they handle everything else (property search, AQL,
cleanup policies). Two sources, merged by :func:`properties_for`:

* **MLflow's layout** of the path inside the repository (:func:`origin_of`). MLflow puts a
  run's files at ``<experiment location>/<run_id>/artifacts/...`` and an MLflow 3 logged
  model's at ``<experiment location>/models/<model_id>/artifacts/...``; the experiment
  location is ``<root>/<experiment_id>`` under a server's default root or artifacts
  destination (an experiment created with its own location has no id in the path). A run
  ID is 32 lower-case hex digits, a logged model ID ``m-`` and 32 hex digits, an
  experiment ID digits. That gives ``mlflow.run_id`` or ``mlflow.logged_model_id``, and
  ``mlflow.experiment_id`` when the path names it. A path that does not follow the layout
  gets none of them.
* **Static properties** from ``MLFLOW_ARTIFACTORY_PROPERTIES``, in Artifactory's own
  syntax (:func:`parse_static`): ``key=value;key2=v1,v2``, ``;`` between properties, ``,``
  between the values of one key, and a backslash before a literal ``\\ ; , = |``. Keys
  follow Artifactory's rule (start with a letter; no whitespace or special characters);
  the plugin also keeps them ASCII, since Artifactory does not decode keys sent in a URL.
  A key the layout also sets takes the layout's value.

The wire forms (matrix parameters on a deploy, the ``properties=`` parameter of Set Item
Properties) are built in :mod:`jfrog_mlflow.urls`.
"""

from __future__ import annotations

import re

from jfrog_mlflow.errors import ConfigurationError

__all__ = [
    "EXPERIMENT_ID",
    "LOGGED_MODEL_ID",
    "RUN_ID",
    "Properties",
    "escape_value",
    "origin_of",
    "owner_folder",
    "parse_static",
    "properties_for",
]

#: Property keys the plugin sets from MLflow's layout.
EXPERIMENT_ID = "mlflow.experiment_id"
RUN_ID = "mlflow.run_id"
LOGGED_MODEL_ID = "mlflow.logged_model_id"

#: ``((key, (value, ...)), ...)``: ordered, hashable (part of a frozen config).
Properties = tuple[tuple[str, tuple[str, ...]], ...]

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
_EXPERIMENT_ID = re.compile(r"[0-9]+")
_ARTIFACTS = "artifacts"
_MODELS = "models"
#: Artifactory's key rule (letter first; none of its special characters) kept to ASCII.
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9._:-]*")
_SPECIAL = "\\;,=|"


def origin_of(repo_path: str) -> Properties:
    """The MLflow ids that the path ``repo_path`` (inside a repository) names.

    The last ``.../<run_id>/artifacts`` or ``.../models/<model_id>/artifacts`` in the path
    decides; ``()`` when there is none.
    """
    segments = [s for s in repo_path.split("/") if s]
    for i in range(len(segments) - 1, 0, -1):
        if segments[i] != _ARTIFACTS:
            continue
        owner = segments[i - 1]
        if _RUN_ID.fullmatch(owner):
            found: list[tuple[str, tuple[str, ...]]] = [(RUN_ID, (owner,))]
            parent = segments[i - 2] if i >= 2 else ""
        elif _MODEL_ID.fullmatch(owner) and i >= 2 and segments[i - 2] == _MODELS:
            found = [(LOGGED_MODEL_ID, (owner,))]
            parent = segments[i - 3] if i >= 3 else ""
        else:
            continue
        if _EXPERIMENT_ID.fullmatch(parent):
            found.insert(0, (EXPERIMENT_ID, (parent,)))
        return tuple(found)
    return ()


def owner_folder(repo_path: str) -> str | None:
    """The folder MLflow made for a run (``.../<run_id>``) or a logged model
    (``.../models/<model_id>``) when ``repo_path`` is exactly its ``artifacts`` folder."""
    segments = [s for s in repo_path.split("/") if s]
    if len(segments) < 2 or segments[-1] != _ARTIFACTS:
        return None
    owner = segments[-2]
    if _RUN_ID.fullmatch(owner) or (
        _MODEL_ID.fullmatch(owner) and len(segments) >= 3 and segments[-3] == _MODELS
    ):
        return "/".join(segments[:-1])
    return None


def properties_for(repo_path: str, static: Properties, *, enabled: bool = True) -> Properties:
    """What a file deployed at ``repo_path`` carries: the static properties, then those of
    MLflow's layout (which win on a shared key); ``()`` when ``enabled`` is false."""
    if not enabled:
        return ()
    origin = origin_of(repo_path)
    own = {key for key, _ in origin}
    return tuple(p for p in static if p[0] not in own) + origin


def _split_unescaped(text: str, separator: str) -> list[str]:
    """``text`` split at each ``separator`` not preceded by a backslash (kept escaped)."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            current.append(ch + next(chars, ""))
        elif ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_static(name: str, value: str | None, default: Properties) -> Properties:
    """Parse ``MLFLOW_ARTIFACTORY_PROPERTIES`` (see the module docs).

    Raises:
        ConfigurationError: naming the variable, for a pair without ``=`` or a bad key.
    """
    if value is None or not value.strip():
        return default
    parsed: dict[str, tuple[str, ...]] = {}
    for pair in _split_unescaped(value.strip(), ";"):
        if not pair.strip():
            continue
        key_part, *rest = _split_unescaped(pair, "=")
        key = _unescape(key_part).strip()
        if not rest:
            raise ConfigurationError(
                f"Invalid value for environment variable {name}: expected key=value pairs "
                f"separated by ';', got {pair.strip()!r}"
            )
        if not _KEY.fullmatch(key):
            raise ConfigurationError(
                f"Invalid value for environment variable {name}: property key {key!r} must "
                "start with a letter and contain only letters, digits and . _ : -"
            )
        raw_values = pair[len(key_part) + 1 :]
        values = tuple(_unescape(v) for v in _split_unescaped(raw_values, ","))
        parsed[key] = parsed.get(key, ()) + values
    return tuple(parsed.items())


def escape_value(text: str) -> str:
    """``text`` with Artifactory's special characters (``\\ ; , = |``) backslash-escaped."""
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)
