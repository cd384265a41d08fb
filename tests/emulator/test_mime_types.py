"""MIME types follow Artifactory's default ``mimetypes.xml`` (not Python's ``mimetypes``):
what a deploy records, the storage API reports and a download sends as ``Content-Type``."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
from emulator_support import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from fake_artifactory.core.mime import guess_mime_type

#: Names an MLflow run typically logs, with the type Artifactory's default table gives.
EXPECTED = {
    "params.yaml": "text/plain",
    "conda.yml": "text/plain",
    "train.log": "text/plain",
    "notes.txt": "text/plain",
    "model.tgz": "application/x-gzip",
    "model.tar.gz": "application/x-gzip",
    "bundle.tar": "application/x-tar",
    "bundle.zip": "application/zip",
    "metrics.json": "application/json",
    "train.py": "text/x-python",
    "run.sh": "text/x-script.sh",
    "page.html": "text/html",
    "conf.xml": "application/xml",
    "style.xsl": "text/xsl",
    "lib.jar": "application/java-archive",
    "MODEL.TXT": "text/plain",
    # Unknown to the default table, whatever Python's mimetypes says:
    "plot.png": "application/octet-stream",
    "photo.jpg": "application/octet-stream",
    "data.csv": "application/octet-stream",
    "README.md": "application/octet-stream",
    "model.pkl": "application/octet-stream",
    "table.parquet": "application/octet-stream",
    "MLmodel": "application/octet-stream",
    ".hidden": "application/octet-stream",
}


@pytest.mark.parametrize(("name", "mime"), sorted(EXPECTED.items()))
def test_deploy_info_and_download_use_artifactorys_default_table(
    session, base, repo_url, name, mime
):
    created = session.put(f"{repo_url}/m/{name}", data=b"content")
    assert created.status_code == 201
    assert created.json()["mimeType"] == mime
    assert session.get(f"{base}/api/storage/{REPO}/m/{name}").json()["mimeType"] == mime
    assert session.get(f"{repo_url}/m/{name}").headers["Content-Type"] == mime
    assert session.head(f"{repo_url}/m/{name}").headers["Content-Type"] == mime


def test_the_table_ships_as_package_data_with_its_source():
    """The table is a data file of the package, naming where it was taken from."""
    table = json.loads(
        files("fake_artifactory.core").joinpath("mimetypes.json").read_text(encoding="utf-8")
    )
    assert "mimetypes.xml" in table["source"] and "6.20" in table["source"]
    assert table["default"] == "application/octet-stream"
    assert table["by_extension"]["yaml"] == "text/plain"
    for extension, mime in table["by_extension"].items():
        if "." not in extension:
            assert guess_mime_type(f"file.{extension}") == mime
            assert guess_mime_type(f"FILE.{extension.upper()}") == mime


_TABLE = json.loads(
    files("fake_artifactory.core").joinpath("mimetypes.json").read_text(encoding="utf-8")
)
_PARTS = st.sampled_from(
    [*(f".{e}" for e in _TABLE["by_extension"]), ".TXT", ".Yaml", ".png", ".", "", "a", "/"]
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["a", "", "b c", ".", "x.y", "..", ".tar", "data:"]), st.lists(_PARTS))
def test_any_name_gets_the_type_of_its_last_extension(stem: str, suffixes: list[str]) -> None:
    name = (stem + "".join(suffixes)).rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[1].lower() if "." in name else None
    expected = _TABLE["by_extension"].get(extension, "application/octet-stream")
    assert guess_mime_type(name) == expected
