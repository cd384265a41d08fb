"""Fidelity probes of repository paths and cross-cutting behaviour: what the target
answers where the emulator's reading of a real server is only medium or low confidence
(the M and L rows of docs/fidelity.md; REST API rows: ``test_fidelity_rest.py``).

Each check asks one thing and records the target's answer next to the emulator's claim
(:mod:`conformance.fidelity`). Against the bundled emulator a difference fails (the
emulator must agree with its own claims); against any other server the check records and
passes: a difference there is news about the real server, collected by
``--fidelity-report FILE``. Everything a probe creates stays in its ``area``; the only
requests outside it are refused ones (a repository that does not exist, an unknown token
id) and one usage report like those JFrog's own clients send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import requests

from conformance.client import RestClient
from conformance.fidelity import Answer
from conformance.probes import Recorder, deployed, message_of, missing_repo, tar_of
from conformance.targets import Capabilities

PRO_ONLY_SHORT = "This REST API is available only in Artifactory Pro."

# -- repository paths ------------------------------------------------------------------------


def test_fidelity_checksum_file_sha256(rest: RestClient, area: str, probe: Recorder) -> None:
    deployed(rest, f"{area}/c.bin", b"checksum me")
    claim = Answer(
        200,
        {"Content-Type": "application/x-checksum"},
        hashlib.sha256(b"checksum me").hexdigest(),
    )
    probe.record("checksum-file-sha256", claim, rest.download(f"{area}/c.bin.sha256"))


def test_fidelity_checksum_file_sha1_missing(
    rest: RestClient, area: str, probe: Recorder, capabilities: Capabilities
) -> None:
    deployed(rest, f"{area}/c.bin", b"checksum me")
    if capabilities.has("client_checksums"):
        claim = Answer(404, {}, "Checksum not found for <area>/c.bin")
    else:  # server-generated checksums: the actual one is always there
        claim = Answer(200, {}, hashlib.sha1(b"checksum me").hexdigest())  # noqa: S324
    probe.record("checksum-file-sha1-missing", claim, rest.download(f"{area}/c.bin.sha1"))


def test_fidelity_file_over_folder(rest: RestClient, area: str, probe: Recorder) -> None:
    assert rest.mkdir(f"{area}/d").status_code == 201
    claim = Answer(400, {}, "Expected a file but found a folder, at: <repo>:<area>/d")
    probe.record("file-over-folder", claim, rest.deploy(f"{area}/d", b"file"))


def test_fidelity_invalid_path(rest: RestClient, area: str, probe: Recorder) -> None:
    claim = Answer(400, {}, "Invalid path. '*' is not a valid name character: <area>/bad*name.txt")
    probe.record("invalid-path", claim, rest.deploy(f"{area}/bad*name.txt", b"x"))


def test_fidelity_unknown_repo_download(rest: RestClient, probe: Recorder) -> None:
    url = f"{rest.base_url}/{missing_repo(probe)}/x.txt"
    probe.record(
        "unknown-repo-download", Answer(404, {}, "File not found."), rest.request("GET", url)
    )


def test_fidelity_unknown_repo_deploy(rest: RestClient, probe: Recorder) -> None:
    url = f"{rest.base_url}/{missing_repo(probe)}/x.txt"
    claim = Answer(404, {}, "Could not find a local repository named <missing-repo> to deploy to.")
    probe.record("unknown-repo-deploy", claim, rest.request("PUT", url, data=b"x"))


def test_fidelity_matrix_params_on_get(rest: RestClient, area: str, probe: Recorder) -> None:
    deployed(rest, f"{area}/m.txt", b"m")
    url = rest.item_url(f"{area}/m.txt") + ";k=v"
    probe.record("matrix-params-on-get", Answer(200, {}, "m"), rest.request("GET", url))


#: Names an ML run logs, with the type of Artifactory's default MIME table.
MIME_TYPES = {
    "params.yaml": "text/plain",
    "train.log": "text/plain",
    "model.tgz": "application/x-gzip",
    "weights.tar.gz": "application/x-gzip",
    "metrics.json": "application/json",
    "train.py": "text/x-python",
    "plot.png": "application/octet-stream",
    "data.csv": "application/octet-stream",
    "README.md": "application/octet-stream",
    "MLmodel": "application/octet-stream",
}


def test_fidelity_mime_types(rest: RestClient, area: str, probe: Recorder) -> None:
    seen = []
    last: requests.Response | None = None
    for name in MIME_TYPES:
        deployed(rest, f"{area}/{name}")
        last = rest.info(f"{area}/{name}")
        seen.append(f"{name}={last.json().get('mimeType') if last.status_code == 200 else None}")
    claim = Answer(200, {}, "; ".join(f"{n}={t}" for n, t in MIME_TYPES.items()))
    assert last is not None
    probe.record("mime-types", claim, last, message="; ".join(seen))


def test_fidelity_range_suffix(rest: RestClient, area: str, probe: Recorder) -> None:
    deployed(rest, f"{area}/r.txt", b"0123456789")
    claim = Answer(206, {"Content-Range": "bytes 7-9/10"}, "789")
    probe.record("range-suffix", claim, rest.download(f"{area}/r.txt", {"Range": "bytes=-3"}))


def test_fidelity_folder_index_page(rest: RestClient, area: str, probe: Recorder) -> None:
    assert rest.mkdir(f"{area}/page").status_code == 201
    claim = Answer(200, {"Content-Type": "text/html;charset=utf-8"})
    url = rest.item_url(f"{area}/page", folder=True)
    probe.record("folder-index-page", claim, rest.request("GET", url), message=None)


def test_fidelity_explode_status(
    rest: RestClient, area: str, probe: Recorder, capabilities: Capabilities
) -> None:
    if not probe.on_edition("explode-status", capabilities, "pro"):
        return
    body = tar_of({"inner.txt": b"inner"})
    resp = rest.deploy(f"{area}/x/b.tar", body, {"X-Explode-Archive-Atomic": "true"})
    probe.record("explode-status", Answer(200, {}, ""), resp)


def test_fidelity_explode_unsupported_extension(
    rest: RestClient, area: str, probe: Recorder, capabilities: Capabilities
) -> None:
    key = "explode-unsupported-extension"
    if not probe.on_edition(key, capabilities, "pro"):
        return
    resp = rest.deploy(f"{area}/x/b.rar", b"not an archive", {"X-Explode-Archive": "true"})
    probe.record(key, Answer(400, {}, "Unsupported archive extension: 'rar'"), resp)


def test_fidelity_explode_on_oss(
    rest: RestClient, area: str, probe: Recorder, capabilities: Capabilities
) -> None:
    if not probe.on_edition("explode-on-oss", capabilities, "oss"):
        return
    resp = rest.deploy(f"{area}/x/b.tar", tar_of({"a.txt": b"a"}), {"X-Explode-Archive": "true"})
    probe.record("explode-on-oss", Answer(400, {}, PRO_ONLY_SHORT), resp)


def test_fidelity_empty_segments(rest: RestClient, area: str, probe: Recorder) -> None:
    url = rest.item_url(area) + "//e.txt"
    resp = rest.request("PUT", url, data=b"e")
    message = resp.json().get("path") if resp.status_code == 201 else message_of(resp)
    probe.record("empty-segments", Answer(201, {}, "/<area>/e.txt"), resp, message=message)


def test_fidelity_long_name(rest: RestClient, area: str, probe: Recorder) -> None:
    claim = Answer(400, {}, "Invalid path. A name is longer than 255 characters (300)")
    probe.record("long-name", claim, rest.deploy(f"{area}/{'n' * 300}", b"x"))


def test_fidelity_override_base_url(rest: RestClient, area: str, probe: Recorder) -> None:
    override = {"X-JFrog-Override-Base-Url": "https://example.invalid/artifactory"}
    resp = rest.deploy(f"{area}/o.txt", b"o", override)
    message = resp.json().get("downloadUri") if resp.status_code == 201 else message_of(resp)
    claim = Answer(201, {}, "https://example.invalid/artifactory/<repo>/<area>/o.txt")
    probe.record("override-base-url", claim, resp, message=message)


def test_fidelity_unread_chunked_body(rest: RestClient, area: str, probe: Recorder) -> None:
    """A PUT refused before its body is read, with more than Tomcat swallows (2 MiB)."""

    def body() -> Iterator[bytes]:
        for _ in range(48):
            yield b"x" * 65536

    bogus = rest.with_headers_only({"Authorization": "Bearer not-a-token"})
    resp = bogus.request("PUT", rest.item_url(f"{area}/u.bin"), data=body())
    probe.record(
        "unread-chunked-body", Answer(401, {"Connection": "close"}, "Bad credentials"), resp
    )
