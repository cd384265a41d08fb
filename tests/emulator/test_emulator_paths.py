"""The raw-path parser: matrix params, decoding, validation, and quote round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_artifactory.core.properties import validate_property_key
from fake_artifactory.core.uri import (
    InvalidRawPath,
    decode_key,
    parse_matrix,
    parse_repo_request,
    quote_path,
    split_context,
    validate_path,
)


def test_api_keys_decode_leniently_and_plus_is_a_space_only_where_asked():
    assert decode_key("my%20repo") == "my repo"
    assert decode_key("caf%C3%A9") == "café"
    assert decode_key("a+b") == "a+b"
    assert decode_key("a+b", plus_is_space=True) == "a b"
    assert decode_key("a%2Bb", plus_is_space=True) == "a+b"
    # Unlike item paths, a malformed key is not refused: it names nothing.
    assert decode_key("bad%zz") == "bad%zz"
    assert decode_key("%ff") == "\ufffd"
    with pytest.raises(InvalidRawPath):
        parse_repo_request("/r/bad%zz")


def test_split_context():
    assert split_context("/artifactory/r/a", "/artifactory") == "/r/a"
    assert split_context("/artifactory", "/artifactory") == ""
    assert split_context("/artifactoryX/r", "/artifactory") is None
    assert split_context("/other", "/artifactory") is None


def test_first_literal_semicolon_starts_matrix_params_and_encoded_one_is_a_name_char():
    req = parse_repo_request("/repo/dir/a%3Bb.txt;k=v1;k=v2;flag;")
    assert req.repo == "repo"
    assert req.path == "dir/a;b.txt"
    assert req.matrix == {"k": ["v1", "v2"], "flag": [""]}
    assert not req.folder


def test_plus_is_literal_in_path_but_space_in_matrix_values_and_keys_stay_raw():
    req = parse_repo_request("/repo/a+b%2Bc%20d;mime=image/svg+xml;k%20x=a%20b")
    assert req.path == "a+b+c d"
    assert req.matrix == {"mime": ["image/svg xml"], "k%20x": ["a b"]}


def test_encoded_slash_is_a_separator_and_dot_segments_collapse():
    assert parse_repo_request("/repo/a%2Fb/./c").path == "a/b/c"


def test_trailing_slash_is_a_folder_request_and_root_variants():
    assert parse_repo_request("/repo/a/b/").folder
    assert parse_repo_request("/repo/a/b/;k=v").folder
    root = parse_repo_request("/repo/")
    assert root.path == "" and root.folder
    bare = parse_repo_request("/repo")
    assert bare.path == "" and not bare.folder


def test_matrix_params_on_repo_segment_are_parsed():
    req = parse_repo_request("/repo;a=1/x;b=2")
    assert req.repo == "repo" and req.path == "x"
    assert req.matrix == {"a": ["1"], "b": ["2"]}


def test_repo_key_is_decoded_and_case_sensitive():
    assert parse_repo_request("/My%2DRepo/x").repo == "My-Repo"


@pytest.mark.parametrize(
    "raw",
    [
        "/repo/a/../b",
        "/repo/..",
        "/repo/a/...",
        "/repo/a%2F..%2Fb",
        "/repo/a*b",
        "/repo/a%7Cb",
        "/repo/a%5Cb",
        "/repo/a%22b",
        "/repo/a%3Fb",
        "/repo/%20lead",
        "/repo/trail%20",
        "/repo/%26",
        "/repo/a%00b",
        "/repo/a%0Ab",
        "/repo/bad%zz",
        "/repo/bad%",
        "/repo/%FF%FE",
    ],
)
def test_invalid_paths_are_rejected(raw):
    with pytest.raises(InvalidRawPath):
        parse_repo_request(raw)


def test_allowed_special_characters():
    for name in ["a:b", "a<b>", "{x}", "$!@#&;+%=~[]", "ü日本", "a b", "a&b"]:
        validate_path(name)


def test_parse_matrix_ignores_empty_pairs():
    assert parse_matrix(";;a=1;") == {"a": ["1"]}


@pytest.mark.parametrize("key", ["", "1abc", "a b", "a+b", "a=b", "a;b", "a/b"])
def test_invalid_property_keys(key):
    with pytest.raises(InvalidRawPath, match="is invalid due to"):
        validate_property_key(key)


def test_valid_property_keys():
    for key in ["build.name", "mlflow_run", "k-1"]:
        validate_property_key(key)


_SPECIALS = " ;#%+&=@:?ü日"
_name_chars = st.sampled_from(list("abcXYZ019-_.~" + _SPECIALS.replace("?", "")))
segment = st.text(_name_chars, min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and set(s) != {"."} and s != "&"
)
repo_path = st.lists(segment, min_size=1, max_size=5).map("/".join)


@given(repo_path)
def test_quote_then_parse_round_trips(path):
    req = parse_repo_request("/repo/" + quote_path(path))
    assert req.path == path
    assert req.matrix == {}
    assert not req.folder


@given(
    repo_path,
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9._-]{0,8}", fullmatch=True),
        st.text(_name_chars, max_size=8),
        max_size=3,
    ),
)
def test_round_trip_with_matrix_params(path, props):
    from urllib.parse import quote_plus

    matrix = "".join(f";{k}={quote_plus(v)}" for k, v in props.items())
    req = parse_repo_request("/repo/" + quote_path(path) + matrix)
    assert req.path == path
    assert req.matrix == {k: [v] for k, v in props.items()}


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20))
def test_parser_never_crashes_unexpectedly(text):
    try:
        parse_repo_request("/repo/" + text)
    except InvalidRawPath:
        pass


def test_properties_query_parameter_parsing():
    from fake_artifactory.core.properties import parse_properties_param

    assert parse_properties_param("a=1,2;b=x\\,y|c;d=e=f;k\\=q=z") == {
        "a": ["1", "2"],
        "b": ["x,y"],
        "c": [""],
        "d": ["e=f"],
        "k=q": ["z"],
    }
