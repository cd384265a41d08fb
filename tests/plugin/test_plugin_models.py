"""Parsing of Artifactory JSON and error translation (pure)."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException

from jfrog_mlflow import errors
from jfrog_mlflow.models import (
    ListEntry,
    parse_aql_children,
    parse_error_message,
    parse_file_list,
    parse_storage_info,
)
from jfrog_mlflow.repository import to_mlflow_exception


def test_parse_file_info():
    info = parse_storage_info(
        {"repo": "r", "path": "/a", "size": "452", "checksums": {"sha1": "AB", "sha256": "CD"}}
    )
    assert not info.is_folder and info.size == 452
    assert info.checksums.sha1 == "ab" and info.checksums.sha256 == "cd"


def test_parse_folder_info():
    info = parse_storage_info(
        {
            "path": "/",
            "children": [{"uri": "/model", "folder": True}, {"uri": "/m j", "folder": False}],
        }
    )
    assert info.is_folder
    assert [(c.path, c.is_folder) for c in info.children] == [("model", True), ("m j", False)]
    assert parse_storage_info({"path": "/", "children": []}).children == ()


def test_parse_file_list():
    entries = parse_file_list(
        {
            "uri": "http://x/api/storage/r/a",
            "files": [
                {"uri": "/", "size": -1, "folder": True},
                {"uri": "/model", "size": -1, "folder": True},
                {"uri": "/model/MLmodel", "size": 452, "folder": False, "sha1": "a", "sha2": "b"},
            ],
        }
    )
    assert [(e.path, e.is_folder, e.size) for e in entries] == [
        ("model", True, None),
        ("model/MLmodel", False, 452),
    ]
    assert entries[1].checksums.sha256 == "b"


def test_parse_rejects_non_objects():
    with pytest.raises(ValueError):
        parse_storage_info([])
    with pytest.raises(ValueError):
        parse_file_list("x")


def test_error_message():
    assert parse_error_message({"errors": [{"status": 404, "message": "File not found."}]}) == (
        "File not found."
    )
    assert parse_error_message({"nope": 1}) == ""
    assert parse_error_message(None) == ""


@pytest.mark.parametrize(
    ("status", "cls", "code"),
    [
        (401, errors.AuthenticationFailed, "UNAUTHENTICATED"),
        (403, errors.PermissionDenied, "PERMISSION_DENIED"),
        (404, errors.ArtifactNotFound, "RESOURCE_DOES_NOT_EXIST"),
        (409, errors.Conflict, "RESOURCE_CONFLICT"),
        (500, errors.ServerError, "INTERNAL_ERROR"),
        (503, errors.ServerError, "TEMPORARILY_UNAVAILABLE"),
        (502, errors.ServerError, "TEMPORARILY_UNAVAILABLE"),
        (504, errors.ServerError, "TEMPORARILY_UNAVAILABLE"),
        (429, errors.HTTPStatusError, "TEMPORARILY_UNAVAILABLE"),
        (413, errors.HTTPStatusError, "INTERNAL_ERROR"),
    ],
)
def test_status_translation(status, cls, code):
    exc = errors.error_for_status(
        status, "server says no", what="download of 'r/a.txt'", method="GET", url="http://h/a"
    )
    assert type(exc) is cls
    mlflow_exc = to_mlflow_exception(exc)
    assert isinstance(mlflow_exc, MlflowException)
    assert mlflow_exc.error_code == code
    assert "r/a.txt" in mlflow_exc.message
    assert str(status) in mlflow_exc.message
    assert "server says no" in mlflow_exc.message


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.ConfigurationError("x"), "INVALID_PARAMETER_VALUE"),
        (errors.InvalidArtifactPath("x"), "INVALID_PARAMETER_VALUE"),
        (errors.HostNotAllowed("x"), "INVALID_PARAMETER_VALUE"),
        (errors.ConnectError("x"), "TEMPORARILY_UNAVAILABLE"),
        (errors.RequestTimeout("x"), "TEMPORARILY_UNAVAILABLE"),
        (errors.IntegrityError("x"), "DATA_LOSS"),
    ],
)
def test_non_status_translation(exc, code):
    assert to_mlflow_exception(exc).error_code == code


def test_builtin_mixins():
    assert issubclass(errors.ArtifactNotFound, FileNotFoundError)
    assert issubclass(errors.PermissionDenied, PermissionError)
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.ConnectError, ConnectionError)


def test_error_detail_prefers_the_envelope_message_and_ignores_html():
    from jfrog_mlflow.models import error_detail

    envelope = b'{"errors": [{"status": 400, "message": "Only in Artifactory Pro"}]}'
    assert error_detail(envelope, "application/json") == "Only in Artifactory Pro"
    assert error_detail(b"  plain text reason \n", "text/plain") == "plain text reason"
    assert error_detail(b"<html><body>Bad gateway</body></html>", "text/html") == ""
    assert error_detail(b'{"not": "an envelope"}') == '{"not": "an envelope"}'
    assert error_detail(b"{truncated", "application/json") == "{truncated"


@pytest.mark.parametrize(
    ("first", "code"),
    [
        (
            errors.error_for_status(404, "", what="x", method="PUT", url="u"),
            "RESOURCE_DOES_NOT_EXIST",
        ),
        (
            errors.error_for_status(503, "", what="x", method="PUT", url="u"),
            "TEMPORARILY_UNAVAILABLE",
        ),
        (errors.ConnectError("reset"), "TEMPORARILY_UNAVAILABLE"),
        (FileNotFoundError("gone"), "INTERNAL_ERROR"),
    ],
)
def test_an_incomplete_upload_is_reported_like_its_first_failure(first, code):
    """One MlflowException for a directory upload: the code of its first failure, and a
    message that counts the failures and names at most ten of them."""
    failures = [("/src/a", first)] + [(f"/src/f{i}", OSError(f"e{i}")) for i in range(11)]
    exc = to_mlflow_exception(errors.UploadIncomplete(failures, 20))
    assert exc.error_code == code
    assert exc.message.startswith(f"Failed to upload 12 of 20 file(s): /src/a: {first}; ")
    assert "/src/f8: e8" in exc.message and "/src/f9" not in exc.message


def test_aql_children_from_another_repository_mean_a_virtual_target():
    own = {"repo": "r", "name": "a.txt", "type": "file", "size": 3}
    root = {"repo": "r", "name": ".", "type": "folder", "size": 0}
    assert parse_aql_children({"results": [root, own]}, "r") == [ListEntry("a.txt", False, 3)]
    member = {**own, "repo": "member-local", "virtual_repos": ["r"]}
    assert parse_aql_children({"results": [own, member]}, "r") is None
    # A row without "repo" (a server that ignored include) counts as the queried one's.
    bare = {"name": "b", "type": "folder"}
    assert parse_aql_children({"results": [bare]}, "r") == [ListEntry("b", True, None)]
