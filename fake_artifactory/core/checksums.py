"""Checksum rules: what the client sent, the CLIENT checksum policy and side files (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from fake_artifactory.core.errors import ChecksumMismatch

if TYPE_CHECKING:
    from fake_artifactory.core.records import ItemRecord

CHECKSUM_ALGS = ("sha1", "md5", "sha256")
_ALG_LABEL = {"sha1": "SHA-1", "md5": "MD5", "sha256": "SHA-256"}
#: ``PUT x.sha1`` (and friends) sets the checksum of ``x`` instead of storing a file.
CHECKSUM_SUFFIXES = {".sha1": "sha1", ".md5": "md5", ".sha256": "sha256"}
_LENGTH_TO_ALG = {32: "md5", 40: "sha1", 64: "sha256"}


def sent_checksums(header: Callable[[str], str | None]) -> dict[str, str]:
    """The client's ``X-Checksum-Sha1/-Md5/-Sha256`` headers, and ``X-Checksum`` (any
    algorithm, told by its length) where the specific one is absent."""
    sent: dict[str, str] = {}
    for alg in CHECKSUM_ALGS:
        value = header(f"X-Checksum-{alg.capitalize()}")
        if value:
            sent[alg] = value.strip().lower()
    generic = (header("X-Checksum") or "").strip().lower()
    generic_alg = _LENGTH_TO_ALG.get(len(generic))
    if generic_alg and generic_alg not in sent:
        sent[generic_alg] = generic
    return sent


def side_file_suffix(path: str) -> str | None:
    """The checksum suffix when ``path`` names a checksum side file (``a/x.sha1``), else None.

    A bare ``.sha1`` (nothing before the suffix in its folder) is an ordinary file.
    """
    suffix = next((s for s in CHECKSUM_SUFFIXES if path.endswith(s)), None)
    if suffix and len(path) > len(suffix) and not path.endswith("/" + suffix):
        return suffix
    return None


def policy_checksum(item: ItemRecord, alg: str) -> str | None:
    """The checksum a local repository's default (client) policy reports for ``alg``:
    sha1 and md5 only as the client sent them (with the deploy or as a checksum upload),
    sha256 always (its original is the actual one).  None when there is none."""
    if alg == "sha256":
        return item.sha256
    return item.original_sha1 if alg == "sha1" else item.original_md5 if alg == "md5" else None


def checksum_policy_message(
    repo: str, path: str, sent: Mapping[str, str], actual: Mapping[str, str]
) -> str:
    """The exact 409 message of the CLIENT checksum policy."""

    def info(alg: str) -> str:
        label = _ALG_LABEL[alg]
        original = sent.get(alg) or "null"
        return (
            f"{label}=ChecksumInfo{{type={label}, original='{original}', actual='{actual[alg]}'}}"
        )

    inner = ", ".join(info(alg) for alg in CHECKSUM_ALGS)
    return (
        f"Checksum policy 'LocalRepoChecksumPolicy: CLIENT' rejected the artifact "
        f"'{repo}:{path}'. Checksums info: ChecksumsInfo{{checksums={{{inner}}}}}"
    )


def verify_client_checksums(
    repo: str, path: str, sent: Mapping[str, str], actual: Mapping[str, str]
) -> None:
    """Raise ChecksumMismatch if any client-sent checksum differs from the actual one."""
    for alg, value in sent.items():
        if value and value.lower() != actual[alg]:
            raise ChecksumMismatch(checksum_policy_message(repo, path, sent, actual))
