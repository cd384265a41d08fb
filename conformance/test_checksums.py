"""Client checksums (409 on mismatch, nothing stored) and deploy by checksum (201 / 404)."""

from __future__ import annotations

import os

import pytest

from conformance.client import RestClient, error_envelope
from conformance.model import checksums
from conformance.paths import join

HEADERS = {"sha1": "X-Checksum-Sha1", "md5": "X-Checksum-Md5", "sha256": "X-Checksum-Sha256"}


@pytest.mark.requires("client_checksums")
@pytest.mark.parametrize("generic", [False, True], ids=["specific-header", "X-Checksum"])
@pytest.mark.parametrize("alg", ["sha1", "md5", "sha256"])
def test_checksum_mismatch_is_409_and_stores_nothing(
    rest: RestClient, area: str, alg: str, generic: bool
) -> None:
    path = join(area, "bad.bin")
    wrong = checksums(b"something else")[alg]
    header = "X-Checksum" if generic else HEADERS[alg]
    r = rest.deploy(path, b"actual bytes", {header: wrong})
    assert r.status_code == 409, (r.status_code, r.text[:300])
    message = error_envelope(r)["message"]
    expected = (
        "Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact "
        f"'{rest.repo}:{path}'"
    )
    assert message.startswith(expected), message
    assert rest.info(path).status_code == 404
    assert rest.download(path).status_code == 404


@pytest.mark.requires("client_checksums")
def test_checksum_mismatch_on_overwrite_keeps_the_old_content(rest: RestClient, area: str) -> None:
    path = join(area, "keep.bin")
    assert rest.deploy(path, b"old").status_code == 201
    r = rest.deploy(path, b"new", {"X-Checksum-Sha1": checksums(b"other")["sha1"]})
    assert r.status_code == 409
    assert rest.download(path).content == b"old"


def test_matching_checksums_are_accepted_and_echoed(rest: RestClient, area: str) -> None:
    body = b"checked content"
    sums = checksums(body)
    headers = {HEADERS[alg]: value.upper() for alg, value in sums.items()}
    r = rest.deploy(join(area, "ok.bin"), body, headers)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    created = r.json()
    assert created["checksums"] == sums
    assert created["originalChecksums"] == sums


def test_original_checksums_echo_only_what_was_sent(rest: RestClient, area: str) -> None:
    body = b"only sha1 sent"
    sums = checksums(body)
    r = rest.deploy(join(area, "one.bin"), body, {"X-Checksum-Sha1": sums["sha1"]})
    assert r.status_code == 201
    original = r.json()["originalChecksums"]
    assert original.get("sha1") == sums["sha1"]
    assert "md5" not in original
    assert original.get("sha256") == sums["sha256"]


@pytest.mark.parametrize("alg", ["sha256", "sha1"])
def test_checksum_deploy_of_known_content_is_201_without_a_body(
    rest: RestClient, area: str, alg: str
) -> None:
    body = os.urandom(64) + b"known content"
    sums = checksums(body)
    assert rest.deploy(join(area, "source.bin"), body).status_code == 201
    target = join(area, "copy.bin")
    r = rest.deploy(target, b"", {"X-Checksum-Deploy": "true", HEADERS[alg]: sums[alg]})
    assert r.status_code == 201, (r.status_code, r.text[:300])
    assert r.json()["checksums"] == sums
    assert rest.download(target).content == body


def test_checksum_deploy_of_unknown_content_is_404(rest: RestClient, area: str) -> None:
    unknown = checksums(os.urandom(48))
    target = join(area, "ghost.bin")
    r = rest.deploy(
        target,
        b"",
        {"X-Checksum-Deploy": "true", "X-Checksum-Sha256": unknown["sha256"]},
    )
    assert r.status_code == 404, (r.status_code, r.text[:300])
    err = error_envelope(r)
    assert err["message"] == (
        f"Checksum deploy failed. No existing file with SHA-256: {unknown['sha256']}"
    ), err
    assert rest.info(target).status_code == 404


def test_checksum_deploy_with_only_md5_is_404(rest: RestClient, area: str) -> None:
    body = os.urandom(32)
    assert rest.deploy(join(area, "src.bin"), body).status_code == 201
    r = rest.deploy(
        join(area, "md5only.bin"),
        b"",
        {"X-Checksum-Deploy": "true", "X-Checksum-Md5": checksums(body)["md5"]},
    )
    assert r.status_code == 404, (r.status_code, r.text[:300])
