"""Recorded-shape tests: the emulator's JSON has the field names and JSON types of the
reference's examples (kept, with our own values, in ``shapes/*.json``).

Values are normalised before comparing: timestamps must be ISO-8601 with three
millisecond digits, URLs absolute (any host), checksums hex of the same length.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_support import REPO

SHAPES = Path(__file__).parent / "shapes"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
HEX = re.compile(r"^[0-9a-f]+$")
BODY = b"recorded shapes body\n"


def shape(name: str) -> Any:
    return json.loads((SHAPES / f"{name}.json").read_text())


def kind(value: Any) -> str:
    if isinstance(value, str):
        if ISO.match(value):
            return "timestamp"
        if value.startswith(("http://", "https://")):
            return "url"
        if HEX.match(value) and len(value) in (32, 40, 64):
            return f"hex{len(value)}"
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return type(value).__name__


def assert_same_shape(expected: Any, actual: Any, where: str = "$") -> None:
    """Same keys, same JSON types (with the normalised string kinds) all the way down.

    For arrays every actual element must have the shape of one of the expected ones.
    """
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {kind(actual)}"
        assert set(actual) == set(expected), (
            f"{where}: keys differ: missing {sorted(set(expected) - set(actual))}, "
            f"extra {sorted(set(actual) - set(expected))}"
        )
        for key, value in expected.items():
            assert_same_shape(value, actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected an array, got {kind(actual)}"
        assert actual, f"{where}: empty array, cannot check its elements"
        for i, element in enumerate(actual):
            errors = []
            for template in expected:
                try:
                    assert_same_shape(template, element, f"{where}[{i}]")
                    break
                except AssertionError as exc:
                    errors.append(str(exc))
            else:
                raise AssertionError("; ".join(errors))
    else:
        assert kind(actual) == kind(expected), (
            f"{where}: {kind(actual)} {actual!r} where the reference has {kind(expected)}"
        )


@pytest.fixture
def tree(session, base, repo_url) -> str:
    """exp/7/run42/weights.bin (client checksums sent), exp/7/notes.txt with properties."""
    resp = session.put(
        f"{repo_url}/exp/7/run42/weights.bin",
        data=BODY,
        headers={
            "X-Checksum-Sha1": hashlib.sha1(BODY).hexdigest(),
            "X-Checksum-Md5": hashlib.md5(BODY).hexdigest(),
        },
    )
    assert resp.status_code == 201
    session.put(f"{repo_url}/exp/7/notes.txt;color=teal;sizes=s;sizes=m", data=b"n")
    return base


def test_deploy_and_folder_create(session, repo_url):
    deployed = session.put(f"{repo_url}/shape/x.bin", data=BODY)
    assert_same_shape(shape("deploy_item_created"), deployed.json())
    folder = session.put(f"{repo_url}/shape/dir/")
    assert_same_shape(shape("folder_created"), folder.json())


def test_storage_info_list_and_properties(session, tree):
    api = f"{tree}/api/storage/{REPO}"
    assert_same_shape(shape("file_info"), session.get(f"{api}/exp/7/run42/weights.bin").json())
    assert_same_shape(shape("folder_info"), session.get(f"{api}/exp/7").json())
    listing = session.get(f"{api}/exp/7?list&deep=1&listFolders=1").json()
    assert_same_shape(shape("file_list"), listing)
    props = session.get(f"{api}/exp/7/notes.txt?properties").json()
    assert_same_shape(shape("item_properties"), props)


def test_copy_move_result(session, tree):
    resp = session.post(f"{tree}/api/copy/{REPO}/exp/7/notes.txt?to=/{REPO}/b/notes.txt")
    assert_same_shape(shape("copy_move_result"), resp.json())


def test_aql_result(session, tree):
    resp = session.post(f"{tree}/api/search/aql", data='items.find({"name":"weights.bin"})')
    assert_same_shape(shape("aql_result"), resp.json())


def test_prop_search(session, tree):
    assert_same_shape(
        shape("prop_search"), session.get(f"{tree}/api/search/prop?color=teal").json()
    )


def test_system_and_repositories(session, base):
    assert_same_shape(shape("repositories_list"), session.get(f"{base}/api/repositories").json())
    assert_same_shape(shape("version"), session.get(f"{base}/api/system/version").json())


def test_error_envelope(session, base):
    resp = session.get(f"{base}/api/storage/{REPO}/does/not/exist")
    assert_same_shape(shape("error"), resp.json())


def test_access_token(fake_artifactory):
    resp = requests.post(
        f"{fake_artifactory.root_url}/access/api/v1/tokens",
        data={"expires_in": "3600"},
        auth=fake_artifactory.auth,
    )
    body = resp.json()
    body["access_token"] = "eyJ.x.y"  # JWT-shaped; only its type matters here
    assert_same_shape(shape("access_token"), body)


def test_the_checker_catches_differences():
    with pytest.raises(AssertionError, match="keys differ"):
        assert_same_shape({"a": 1}, {"b": 1})
    with pytest.raises(AssertionError, match="string"):
        assert_same_shape({"size": 1}, {"size": "1"})
    with pytest.raises(AssertionError, match="timestamp"):
        assert_same_shape({"t": "2025-03-04T05:06:07.089Z"}, {"t": "2025-03-04 05:06"})
