"""AQL: parser, evaluator and output shape (reference §9), with property-based checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_artifactory.core.aql import (
    DEFAULT_FIELDS,
    AqlError,
    AqlItem,
    execute,
    format_timestamp,
    parse,
    search,
)
from fake_artifactory.core.aql.relative import parse_period

T0 = datetime(2024, 5, 2, 10, 11, 12, 345678, tzinfo=timezone.utc)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def file(repo: str, path: str, size: int = 10, when: int = 0, **props: list[str]) -> AqlItem:
    return AqlItem(
        repo=repo,
        path=path,
        name=path.rsplit("/", 1)[-1],
        type="file",
        size=size,
        created=day(when),
        modified=day(when),
        updated=day(when),
        sha1=f"sha1-{path}",
        md5=f"md5-{path}",
        sha256=f"sha256-{path}",
        original_sha1=f"sha1-{path}",
        original_md5=f"md5-{path}",
        properties=props,
    )


def folder(repo: str, path: str) -> AqlItem:
    return AqlItem(repo, path, path.rsplit("/", 1)[-1], "folder", 4096, T0, T0, T0)


ITEMS = [
    folder("mlflow-local", ""),
    folder("mlflow-local", "1"),
    folder("mlflow-local", "1/abc123"),
    folder("mlflow-local", "1/abc123/artifacts"),
    folder("mlflow-local", "1/abc123/artifacts/model"),
    file("mlflow-local", "1/abc123/artifacts/model/MLmodel", 452, 0, stage=["prod"]),
    file("mlflow-local", "1/abc123/artifacts/model/model.pkl", 9000, 1, stage=["dev", "prod"]),
    file("mlflow-local", "1/abc123/artifacts/metrics.json", 33, 2, owner=["alice"]),
    file("mlflow-local", "readme.txt", 5, 3),
    folder("other-local", ""),
    file("other-local", "a/b/c.bin", 1, 4, owner=["bob"]),
]


def names(result: dict) -> list[str]:
    return [r["name"] for r in result["results"]]


# --- the reference's examples ----------------------------------------------------------


def test_reference_example_match_on_path_with_include():
    query = (
        'items.find({"repo":"mlflow-local","path":{"$match":"1/abc123/artifacts*"}})'
        '.include("repo","path","name","type","size","actual_sha1","sha256")'
    )
    result = search(query, ITEMS)
    assert names(result) == ["metrics.json", "MLmodel", "model.pkl"]
    first = result["results"][0]
    assert list(first) == ["repo", "path", "name", "type", "size", "actual_sha1", "sha256"]
    assert first == {
        "repo": "mlflow-local",
        "path": "1/abc123/artifacts",
        "name": "metrics.json",
        "type": "file",
        "size": 33,
        "actual_sha1": "sha1-1/abc123/artifacts/metrics.json",
        "sha256": "sha256-1/abc123/artifacts/metrics.json",
    }
    assert result["range"] == {"start_pos": 0, "end_pos": 3, "total": 3}


def test_default_fields_and_their_types():
    result = search('items.find({"name":"MLmodel"})', ITEMS)
    [row] = result["results"]
    assert tuple(row) == DEFAULT_FIELDS
    assert row == {
        "repo": "mlflow-local",
        "path": "1/abc123/artifacts/model",
        "name": "MLmodel",
        "type": "file",
        "size": 452,
        "created": "2024-05-02T10:11:12.345Z",
        "created_by": "admin",
        "modified": "2024-05-02T10:11:12.345Z",
        "modified_by": "admin",
        "updated": "2024-05-02T10:11:12.345Z",
    }


def test_root_items_have_dot_path_and_the_root_folder_is_dot_dot():
    files = search('items.find({"repo":"mlflow-local","path":"."})', ITEMS)
    assert names(files) == ["readme.txt"]
    assert files["results"][0]["path"] == "."
    folders = search('items.find({"repo":"mlflow-local","type":"folder","path":"."})', ITEMS)
    rows = [(r["path"], r["name"], r["type"], r["size"]) for r in folders["results"]]
    assert rows == [(".", ".", "folder", 0), (".", "1", "folder", 0)]


def test_only_files_unless_type_is_given():
    assert all(r["type"] == "file" for r in search("items.find()", ITEMS)["results"])
    every = search('items.find({"type":"any"})', ITEMS)["results"]
    assert len(every) == len(ITEMS)
    only_folders = search('items.find({"type":"folder"})', ITEMS)["results"]
    assert {r["type"] for r in only_folders} == {"folder"}
    assert all(
        "actual_sha1" not in r
        for r in search('items.find({"type":"folder"}).include("name","actual_sha1")', ITEMS)[
            "results"
        ]
    )


def test_limit_offset_and_range_block():
    query = 'items.find({"repo":"mlflow-local"}).sort({"$asc":["name"]}).offset(1).limit(2)'
    result = search(query, ITEMS)
    assert names(result) == ["metrics.json", "model.pkl"]
    assert result["range"] == {"start_pos": 1, "end_pos": 2, "total": 2, "limit": 2}
    past_end = search("items.find().offset(100)", ITEMS)
    assert past_end == {"results": [], "range": {"start_pos": 100, "end_pos": 0, "total": 0}}


# --- operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ('{"size":{"$gt":100}}', ["MLmodel", "model.pkl"]),
        ('{"size":{"$gte":452}}', ["MLmodel", "model.pkl"]),
        ('{"size":{"$lt":"6"}}', ["c.bin", "readme.txt"]),
        ('{"size":{"$lte":33,"$gt":1}}', ["metrics.json", "readme.txt"]),
        ('{"size":452}', ["MLmodel"]),
        (
            '{"name":{"$ne":"MLmodel"},"repo":"mlflow-local"}',
            ["metrics.json", "model.pkl", "readme.txt"],
        ),
        ('{"name":{"$match":"*.???"}}', ["c.bin", "model.pkl", "readme.txt"]),
        ('{"name":{"$match":"m*"}}', ["metrics.json", "model.pkl"]),
        ('{"name":{"$match":"M*"}}', ["MLmodel"]),
        ('{"name":{"$nmatch":"*.*"}}', ["MLmodel"]),
        ('{"name":{"$match":"[a]*"}}', []),
        ('{"$or":[{"name":"MLmodel"},{"repo":"other-local"}]}', ["MLmodel", "c.bin"]),
        (
            '{"$and":[{"repo":"mlflow-local"},{"$or":[{"size":5},{"size":33}]}]}',
            ["metrics.json", "readme.txt"],
        ),
        ('{"depth":1}', ["readme.txt"]),
        ('{"depth":{"$gte":5}}', ["MLmodel", "model.pkl"]),
        ('{"created":{"$gt":"2024-05-04T00:00:00Z"}}', ["metrics.json", "readme.txt", "c.bin"]),
        ('{"modified":{"$lt":"2024-05-03"}}', ["MLmodel"]),
        ('{"modified":{"$lt":1714780800000}}', ["MLmodel", "model.pkl"]),
        ('{"updated":{"$gte":"2024-05-06T10:11:12.345+00:00"}}', ["c.bin"]),
        ('{"sha256":"sha256-readme.txt"}', ["readme.txt"]),
        ('{"actual_md5":{"$match":"md5-a/*"}}', ["c.bin"]),
        ('{"original_sha1":"sha1-readme.txt"}', ["readme.txt"]),
        ('{"item.name":"readme.txt"}', ["readme.txt"]),
    ],
)
def test_field_criteria(criteria, expected):
    result = search(f"items.find({criteria})", ITEMS)
    assert sorted(names(result)) == sorted(expected)


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ('{"@stage":"prod"}', ["MLmodel", "model.pkl"]),
        ('{"@stage":"dev"}', ["model.pkl"]),
        ('{"@stage":{"$match":"p*"}}', ["MLmodel", "model.pkl"]),
        ('{"@stage":{"$match":"*"}}', ["MLmodel", "model.pkl"]),
        (
            '{"@stage":{"$ne":"dev"},"repo":"mlflow-local"}',
            ["MLmodel", "metrics.json", "readme.txt"],
        ),
        ('{"@stage":{"$nmatch":"p*"},"repo":"mlflow-local"}', ["metrics.json", "readme.txt"]),
        ('{"@owner":"alice","@stage":"prod"}', []),
        ('{"$or":[{"@owner":"alice"},{"@owner":"bob"}]}', ["metrics.json", "c.bin"]),
        ('{"@missing":"x"}', []),
        # The "catch all" notation: "@*" is any key, "*" as a value any value.
        ('{"@stage":"*"}', ["MLmodel", "model.pkl"]),
        ('{"@missing":"*"}', []),
        ('{"@*":"alice"}', ["metrics.json"]),
        ('{"@*":{"$match":"*"}}', ["MLmodel", "model.pkl", "metrics.json", "c.bin"]),
        ('{"@*":{"$ne":"prod"},"repo":"mlflow-local"}', ["metrics.json", "readme.txt"]),
    ],
)
def test_property_criteria(criteria, expected):
    result = search(f"items.find({criteria})", ITEMS)
    assert sorted(names(result)) == sorted(expected)


@pytest.mark.parametrize(
    ("criteria", "now", "expected"),
    [
        ('{"created":{"$last":"2d"}}', day(4), ["metrics.json", "readme.txt", "c.bin"]),
        ('{"created":{"$before":"2d"}}', day(4), ["MLmodel", "model.pkl"]),
        ('{"modified":{"$last":"48hours"}}', day(4), None),
        ('{"modified":{"$last":"1mo"}}', day(40), []),
        (
            '{"modified":{"$last":"2months"}}',
            day(40),
            ["MLmodel", "model.pkl", "metrics.json", "readme.txt", "c.bin"],
        ),
        (
            '{"updated":{"$before":"1y"}}',
            day(400),
            ["MLmodel", "model.pkl", "metrics.json", "readme.txt", "c.bin"],
        ),
        ('{"name":{"$last":"3d"}}', day(4), None),
        ('{"@stage":{"$before":"3d"}}', day(4), None),
        ('{"size":{"$last":"3d"}}', day(4), None),
    ],
)
def test_relative_time_operators_count_back_from_now(criteria, now, expected):
    text = f"items.find({criteria})"
    if expected is None:
        with pytest.raises(AqlError, match="takes a date field and a period"):
            parse(text)
        return
    assert sorted(names(execute(parse(text), ITEMS, now=now))) == sorted(expected)


def test_calendar_periods_keep_the_day_or_take_the_month_end():
    leap_day = datetime(2024, 2, 29, 12, tzinfo=timezone.utc)
    assert parse_period("1y").before(leap_day) == datetime(2023, 2, 28, 12, tzinfo=timezone.utc)
    month_end = datetime(2024, 3, 31, tzinfo=timezone.utc)
    assert parse_period("1mo").before(month_end) == datetime(2024, 2, 29, tzinfo=timezone.utc)
    assert parse_period("13months").before(month_end) == datetime(2023, 2, 28, tzinfo=timezone.utc)
    assert parse_period("1500ms").before(month_end) == month_end - timedelta(seconds=1.5)
    assert parse_period("2 weeks") is None and parse_period("3h") is None


# --- modifiers ---------------------------------------------------------------------------


def test_include_property_gives_key_value_pairs():
    result = search('items.find({"name":"model.pkl"}).include("name","property")', ITEMS)
    assert result["results"] == [
        {
            "name": "model.pkl",
            "properties": [{"key": "stage", "value": "dev"}, {"key": "stage", "value": "prod"}],
        }
    ]


def test_jfrog_cli_property_fetch_query_returns_the_items_with_their_properties():
    # How JFrog CLI fetches properties after a sorted or limited search (its AQL builder
    # cannot sort with include("property")); a real server answers it with every item
    # that has a property, which jfrog-cli's sort-by-created test relies on.
    text = (
        'items.find({"$and":[{"repo":"mlflow-local","path":{"$match":"1/abc123/*"}},'
        '{"$or":[{"@*":{"$match":"*"}}]}]}).include("name","repo","path","property")'
    )
    rows = {r["name"]: r["properties"] for r in search(text, ITEMS)["results"]}
    assert rows == {
        "MLmodel": [{"key": "stage", "value": "prod"}],
        "model.pkl": [{"key": "stage", "value": "dev"}, {"key": "stage", "value": "prod"}],
        "metrics.json": [{"key": "owner", "value": "alice"}],
    }


def test_include_single_property_key_keeps_default_fields():
    result = search('items.find({"name":"c.bin"}).include("@owner")', ITEMS)
    [row] = result["results"]
    assert tuple(row)[:-1] == DEFAULT_FIELDS
    assert row["properties"] == [{"key": "owner", "value": "bob"}]
    empty = search('items.find({"name":"readme.txt"}).include("name","@owner")', ITEMS)
    assert empty["results"] == [{"name": "readme.txt", "properties": []}]


def test_include_star_and_item_prefix_and_depth():
    [row] = search('items.find({"name":"c.bin"}).include("*")', ITEMS)["results"]
    assert {"actual_md5", "original_sha1", "depth", "sha256", "properties"} <= set(row)
    assert row["depth"] == 3
    [row] = search('items.find({"name":"c.bin"}).include("item.repo","depth")', ITEMS)["results"]
    assert row == {"repo": "other-local", "depth": 3}


def test_sort_ascending_descending_and_multi_field():
    asc = search('items.find().sort({"$asc":["size"]})', ITEMS)
    assert [r["size"] for r in asc["results"]] == [1, 5, 33, 452, 9000]
    desc = search('items.find().sort({"$desc":["repo","name"]})', ITEMS)
    assert names(desc) == ["c.bin", "readme.txt", "model.pkl", "metrics.json", "MLmodel"]
    by_date = search('items.find().sort({"$desc":["created"]}).limit(1)', ITEMS)
    assert names(by_date) == ["c.bin"]


def test_whitespace_single_quotes_escapes_and_trailing_semicolon():
    query = """
        items . find ( {
            'name' : "met\\u0072ics.json"
        } )
        .include( "name" ) ;
    """
    assert names(search(query, ITEMS)) == ["metrics.json"]


def test_format_timestamp_is_utc_with_milliseconds():
    cet = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2024, 1, 2, 5, 6, 7, 891999, tzinfo=cet)) == (
        "2024-01-02T03:06:07.891Z"
    )
    assert format_timestamp(datetime(2024, 1, 2)) == "2024-01-02T00:00:00.000Z"


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("", 0, 0, "empty query"),
        ("items.find(", 1, 12, "expected a value"),
        ('items.find({"repo":})', 1, 20, "expected a value, found '}'"),
        ('items.find({"repo" "x"})', 1, 20, "expected ':'"),
        ('items.find({"repo":"x",})', 1, 24, "quoted field name"),
        ('items.find({"foo":1})', 1, 13, "unknown field 'foo'"),
        ('items.find({"repo":{"$like":"x"}})', 1, 21, "unknown operator '$like'"),
        ('items.find({"$not":[{"repo":"x"}]})', 1, 13, "unknown operator '$not'"),
        ('items.find({"$or":{"repo":1}, "$and": 3})', 1, 31, "$and takes an array"),
        ('items.find({"size":{"$match":"1*"}})', 1, 21, "text fields"),
        ('items.find({"size":"big"})', 1, 13, "takes a number"),
        ('items.find({"created":"yesterday"})', 1, 13, "ISO 8601"),
        ('items.find({"type":"dir"})', 1, 13, "file, folder or any"),
        ('items.find({"repo":null})', 1, 13, "string or a number"),
        ("builds.find()", 1, 1, "only 'items'"),
        ("items.find().include(name)", 1, 22, "quoted field names"),
        ('items.find().include("nope")', 1, 22, "unknown include field"),
        ("items.find().limit(-1)", 1, 20, "non-negative integer"),
        ("items.find().offset(1.5)", 1, 21, "non-negative integer"),
        ('items.find().sort({"$up":["name"]})', 1, 20, "$asc or $desc"),
        ('items.find().sort({"$asc":["property"]})', 1, 20, "cannot sort"),
        ("items.find().sort([])", 1, 19, "sort() takes"),
        ("items.find().limit(1).limit(2)", 1, 23, "duplicate .limit()"),
        ("items.find().frob()", 1, 14, "unknown modifier"),
        ("items.find() extra", 1, 14, "after the query"),
        ('items.find({"repo":"x})', 1, 20, "unterminated string"),
        ('items.find({"repo":"\\q"})', 1, 21, "bad escape"),
        ("items.find(#)", 1, 12, "unexpected character '#'"),
        ('items.find(\n  {"repo": }\n)', 2, 12, "expected a value"),
    ],
)
def test_errors_point_at_the_problem(text, line, column, fragment):
    with pytest.raises(AqlError) as info:
        parse(text)
    error = info.value
    assert fragment in str(error)
    assert (error.line, error.column) == (line, column)
    if line:
        assert f"line {line}, column {column}" in str(error)


# --- properties (Hypothesis) -------------------------------------------------------------

_names = st.text(st.characters(codec="utf-8", exclude_characters="*?\x00"), min_size=1)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_parse_never_fails_with_anything_but_aql_error(text):
    try:
        parse(text)
    except AqlError:
        pass


@settings(max_examples=100, deadline=None)
@given(name=_names, other=_names)
def test_match_without_wildcards_is_equality(name, other):
    items = [file("r", name.replace("/", "_")), file("r", other.replace("/", "_"))]
    target = items[0].name
    literal = target.replace("\\", "\\\\").replace('"', '\\"')
    by_match = search(f'items.find({{"name":{{"$match":"{literal}"}}}})', items)
    by_eq = search(f'items.find({{"name":"{literal}"}})', items)
    assert by_match == by_eq
    assert all(r["name"] == target for r in by_eq["results"])


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=10**9), max_size=12),
    offset=st.integers(min_value=0, max_value=15),
    limit=st.integers(min_value=0, max_value=15),
)
def test_offset_limit_is_a_window_of_the_sorted_results(sizes, offset, limit):
    items = [file("r", f"f{i}", size) for i, size in enumerate(sizes)]
    full = search('items.find().sort({"$asc":["size","name"]})', items)["results"]
    page = execute(
        parse(f'items.find().sort({{"$asc":["size","name"]}}).offset({offset}).limit({limit})'),
        items,
    )
    assert page["results"] == full[offset : offset + limit]
    assert page["range"]["total"] == len(page["results"])


# --- through the real emulator -----------------------------------------------------------


def test_aql_over_http(fake_artifactory):
    import requests

    base, auth = fake_artifactory.url, fake_artifactory.auth
    repo = "example-repo-local"
    for path, data in [("run/1/model/MLmodel;stage=prod", b"m"), ("run/1/data.csv", b"a,b\n")]:
        assert requests.put(f"{base}/{repo}/{path}", data=data, auth=auth, timeout=10).ok
    query = (
        f'items.find({{"repo":"{repo}","path":{{"$match":"run/1*"}}}})'
        '.include("repo","path","name","type","size","sha256","property")'
        '.sort({"$asc":["path","name"]})'
    )
    resp = requests.post(f"{base}/api/search/aql", data=query, auth=auth, timeout=10)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert [(r["path"], r["name"], r["size"]) for r in body["results"]] == [
        ("run/1", "data.csv", 4),
        ("run/1/model", "MLmodel", 1),
    ]
    assert body["results"][1]["properties"] == [{"key": "stage", "value": "prod"}]
    assert body["range"] == {"start_pos": 0, "end_pos": 2, "total": 2}
    folders = requests.post(
        f"{base}/api/search/aql",
        data=f'items.find({{"repo":"{repo}","type":"folder","path":"."}})',
        auth=auth,
        timeout=10,
    ).json()["results"]
    assert {"path": ".", "name": "."} in [{"path": r["path"], "name": r["name"]} for r in folders]
    bad = requests.post(f"{base}/api/search/aql", data='items.find({"x":1})', auth=auth, timeout=10)
    assert bad.status_code == 400
    assert bad.text.startswith('Failed to parse query: items.find({"x":1}), it looks like')
