"""URL building, percent-encoding round trips and name validation (pure)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jfrog_mlflow.errors import InvalidArtifactPath
from jfrog_mlflow.urls import (
    build_deep_list_url,
    build_item_url,
    build_list_url,
    build_storage_url,
    join_path,
    quote_path,
    quote_segment,
    relative_to,
    unquote_path,
    validate_listed_path,
    validate_path,
)

BASE = "http://127.0.0.1:1/artifactory"

segments = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="/"), min_size=1, max_size=40
)
paths = st.lists(segments, min_size=1, max_size=6).map("/".join)


@settings(deadline=None)
@given(paths)
def test_quote_path_round_trips(path):
    encoded = quote_path(path)
    assert unquote_path(encoded) == path
    # nothing that Artifactory or URL parsing would treat specially survives unencoded
    assert not set(encoded) & set(";#?+ &=@:\\\"'")
    assert encoded.count("/") == path.count("/")


@settings(deadline=None)
@given(paths)
def test_item_url_keeps_the_path_in_the_path_component(path):
    url = build_item_url(BASE, "repo", path)
    parts = urlsplit(url)
    assert parts.query == "" and parts.fragment == ""
    assert unquote_path(parts.path) == "/artifactory/repo/" + path


@pytest.mark.parametrize(
    ("name", "encoded"),
    [
        ("a b", "a%20b"),
        ("hash#x.txt", "hash%23x.txt"),
        ("q?.txt", "q%3F.txt"),
        ("semi;colon", "semi%3Bcolon"),
        ("pct%41", "pct%2541"),
        ("plus+", "plus%2B"),
        ("ü", "%C3%BC"),
        ("a-b_c.d~e", "a-b_c.d~e"),
    ],
)
def test_quote_segment_examples(name, encoded):
    assert quote_segment(name) == encoded


def test_builders():
    assert build_item_url(BASE, "r", "a b/c") == f"{BASE}/r/a%20b/c"
    assert build_item_url(BASE, "r", "") == f"{BASE}/r"
    assert build_item_url(BASE, "r", "d", folder=True) == f"{BASE}/r/d/"
    assert build_storage_url(BASE, "r", "x;y") == f"{BASE}/api/storage/r/x%3By"
    assert build_list_url(BASE, "r", "") == f"{BASE}/api/storage/r?list&deep=0&listFolders=1"
    assert build_deep_list_url(BASE, "r", "a").endswith("/r/a?list&deep=1&listFolders=1")


def test_join_and_relative():
    assert join_path("a/", None, "", "/b//c/") == "a/b/c"
    assert join_path() == ""
    assert relative_to("a/b/c", "a") == "b/c"
    assert relative_to("a", "a") == ""
    assert relative_to("ab/c", "a") is None
    assert relative_to("x", "") == "x"


@pytest.mark.parametrize(
    "path",
    [
        "a\\b",
        "a|b",
        "star*",
        "q?",
        'quote"',
        "ctl\x01",
        "nul\x00",
        " lead",
        "trail ",
        "tab\t",
        "...",
        "a/./b",
        "&",
        "ok/ bad",
        "model.pkl.sha1",
        "dir/weights.md5",
        "x.sha256",
    ],
)
def test_validate_path_rejects_unstorable_names_naming_the_file(path):
    with pytest.raises(InvalidArtifactPath, match="my-local-file"):
        validate_path(path, what="my-local-file")


@pytest.mark.parametrize(
    "path",
    [
        "a b",
        "#;%+&=@:",
        "ünï/çødé",
        "x" * 250,
        "/".join(["d"] * 40),
        ".hidden",
        "a&b",
        "mid . dot",
        "sums.sha1.txt",
        "dir.md5/file",
        ".sha1",
    ],
)
def test_validate_path_accepts_storable_names(path):
    assert validate_path(path) == path


@pytest.mark.parametrize("path", ["../x", "a/../../b", "/etc/passwd", "a\\b", ".", "a/./b"])
def test_validate_listed_path_blocks_escapes(path):
    with pytest.raises(InvalidArtifactPath):
        validate_listed_path(path)


def test_checksum_suffix_names_are_refused_with_the_sibling_named():
    with pytest.raises(InvalidArtifactPath, match=r"checksum of the sibling file 'model.pkl'"):
        validate_path("out/model.pkl.sha256", what="/tmp/out/model.pkl.sha256")
