"""The fidelity probe: what the emulator claims a real server answers, what the target
answered, and the report that compares them (pure, no I/O but the report file).

Every row of ``docs/fidelity.md`` whose evidence is only medium or low confidence names
one or more probes (:data:`PROBES`). A probe is a check of ``conformance/test_fidelity.py``
that asks the target one thing and records an :class:`Answer` with the emulator's claim
for that target (its version and edition may change the claim). It fails only against
the bundled emulator (which must agree with itself); against any other server it records
and passes, so a user's run shows what their server does without turning a guess into a
failure. ``--fidelity-report FILE`` writes every probe's claim, observation and
agreement (:func:`build_report`).

Observations are normalised before they are compared or written: the repository key and
the run's folders become ``<repo>`` and ``<area>``, identity headers are reduced to
present/absent, and everything passes the suite's redactor, so the report holds no
secret and nothing that identifies the server beyond its version and edition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "ABSENT",
    "PRESENT",
    "PROBES",
    "PROPERTY_PREFIX",
    "Answer",
    "Probe",
    "build_report",
    "differences",
    "encode_record",
    "write_report",
]

#: A header the claim says is missing, or that the target did not send.
ABSENT = "<absent>"
#: A header the claim says is present with any value (its value is never recorded).
PRESENT = "<present>"
#: Prefix of the test property that carries one probe's record (``fidelity:<key>``).
PROPERTY_PREFIX = "fidelity:"
REPORT_FORMAT = "jfrog-mlflow fidelity report 1"


@dataclass(frozen=True)
class Answer:
    """What a server answered, reduced to what a probe compares.

    ``status``: the HTTP status; ``headers``: the probed headers by name (a value,
    :data:`ABSENT` or :data:`PRESENT`); ``message``: the error envelope's message or the
    text body, or a probe's own summary (``name=type; ...``). ``None`` = not compared.
    """

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    message: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "headers": dict(self.headers), "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        return cls(data.get("status"), dict(data.get("headers") or {}), data.get("message"))


@dataclass(frozen=True)
class Probe:
    """One probe: which docs row it belongs to and how sure the emulator's claim is."""

    key: str
    row: str  # the first column of its row in docs/fidelity.md
    confidence: str  # "M" or "L", the row's weakest claim
    evidence: str  # the kinds of evidence behind the claim
    asks: str  # what the probe sends, in a few words


def _p(key: str, row: str, confidence: str, evidence: str, asks: str) -> Probe:
    return Probe(key, row, confidence, evidence, asks)


#: Every probe, by key. ``tests/conformance_self`` checks this table against the probes of
#: ``conformance/test_fidelity.py`` and against the M and L rows of docs/fidelity.md.
PROBES: dict[str, Probe] = {
    p.key: p
    for p in (
        _p("checksum-file-sha256", "Checksum files", "M", "6.20 source",
           "GET <file>.sha256 of a file deployed without checksum headers"),
        _p("checksum-file-sha1-missing", "Checksum files", "M", "6.20 source",
           "GET <file>.sha1 of a file deployed without checksum headers"),
        _p("file-over-folder", "File over an existing folder", "M", "6.20 source",
           "PUT a file where a folder is"),
        _p("invalid-path", "Invalid path", "M", "6.20 source", "PUT a name with '*'"),
        _p("unknown-repo-download", "Unknown repository", "M", "6.20 source",
           "GET a file of a repository that does not exist"),
        _p("unknown-repo-deploy", "Unknown repository", "M", "6.20 source",
           "PUT a file into a repository that does not exist"),
        _p("matrix-params-on-get", "Property-based resolution", "M", "docs",
           "GET <file>;k=v of a file without that property"),
        _p("mime-types", "MIME types", "M", "6.20 source, 7.x capture",
           "mimeType of files named like an ML run's artifacts"),
        _p("range-suffix", "Ranges", "M", "6.20 source", "GET with Range: bytes=-3"),
        _p("folder-index-page", "Folder GET", "L", "6.20 source", "GET <folder>/"),
        _p("explode-status", "Deploy from archive", "L", "docs",
           "PUT a tar with X-Explode-Archive-Atomic: true (Pro)"),
        _p("explode-unsupported-extension", "Deploy from archive", "M", "6.20 source",
           "PUT <name>.rar with X-Explode-Archive: true (Pro)"),
        _p("explode-on-oss", "Deploy from archive on OSS", "L", "6.20 source",
           "PUT a tar with X-Explode-Archive: true (OSS)"),
        _p("accept-not-acceptable", "Accept negotiation", "M", "6.20 source, issue",
           "storage info with Accept: text/html"),
        _p("accept-vendor-mismatch", "Accept negotiation", "M", "6.20 source",
           "file info with Accept: application/xml"),
        _p("properties-missing-item", "Get properties", "M", "6.20 source",
           "?properties of a missing item"),
        _p("prop-search-no-criterion", "Property search", "M", "6.20 source",
           "property search without any criterion"),
        _p("aql-query-length", "AQL: query length", "L", "docs (second-hand)",
           "an AQL query of 6,001 characters"),
        _p("aql-parse-error", "AQL: parse errors", "L", "6.20 source",
           "an AQL query that does not parse"),
        _p("aql-anonymous", "AQL: anonymous caller", "L", "6.20 source",
           "an AQL query without credentials"),
        _p("aql-catch-all-property", "AQL: relative times and catch-all properties", "M",
           "docs, client", 'AQL {"@*":{"$match":"*"}} over a file with and one without'),
        _p("aql-relative-time", "AQL: relative times and catch-all properties", "M",
           "docs", "AQL created $last 1d and $before 1d over a file deployed now"),
        _p("aql-virtual-repo", "AQL on a virtual repository", "M", "docs",
           "AQL naming a virtual repository over the conformance repository"),
        _p("copy-result-message", "Copy / move", "M", "docs, client",
           "copy one file (Pro)"),
        _p("identity-headers", "Response headers", "M", "7.x capture, 6.20 source",
           "the identity headers of /api/system/version"),
        _p("usage-report", "POST /api/system/usage", "L", "issue, client",
           "a usage report like JFrog CLI's"),
        _p("repository-config-missing", "GET /api/repositories/{key}", "M", "docs, client",
           "the configuration of a repository that does not exist"),
        _p("folder-download-archive-headers", "Folder download: the archive", "L",
           "6.20 source, ours", "a folder as a tar (when the server allows it)"),
        _p("folder-download-default-type", "Folder download: the archive", "L",
           "6.20 source, ours", "a folder without archiveType (when allowed)"),
        _p("folder-download-anonymous", "Folder download by an anonymous caller", "M",
           "6.20 source", "a folder archive without credentials"),
        _p("access-token-revoke-unknown", "Token list / revoke", "L", "docs, ours",
           "DELETE /access/api/v1/tokens/<unknown id>"),
        _p("override-base-url", "Absolute URLs", "M", "6.20 source, client",
           "deploy with X-JFrog-Override-Base-Url"),
        _p("empty-segments", "Raw-URI path handling", "M", "6.20 source, client",
           "PUT <area>//x.txt"),
        _p("unread-chunked-body", "Unread request body", "M", "ours (Tomcat's default)",
           "a refused PUT with 3 MiB of chunked body"),
        _p("long-name", "Request limits", "M", "6.20 source", "PUT a 300-character name"),
        _p("security-user-missing", "Users", "L", "docs, 6.20 source, client, issue",
           "GET /api/security/users/<a name no user has> (Pro)"),
        _p("security-group-missing", "Groups", "L", "docs, 6.20 source, client, issue",
           "GET /api/security/groups/<a name no group has> (Pro)"),
        _p("permission-target-missing", "Permission targets v1", "M",
           "docs, 6.20 source, client",
           "GET /api/security/permissions/<a name no target has> (Pro)"),
        _p("encrypted-password", "GET /api/security/encryptedPassword", "M", "6.20 source",
           "the caller's encrypted password"),
        _p("project-missing", "Projects", "L", "docs, client",
           "GET /access/api/v1/projects/<a key no project has>"),
        _p("virtual-read", "Read through a virtual repository", "M", "6.20 source",
           "file info through a virtual repository over the conformance repository"),
        _p("virtual-delete", "Delete through a virtual repository", "M", "6.20 source",
           "DELETE of the area's own file through such a virtual repository"),
        _p("virtual-deploy-repo", "Deploy through a virtual repository", "L", "6.20 source",
           "PUT through such a virtual repository deploying to the conformance repository"),
    )
}  # fmt: skip


def differences(claim: Answer, observed: Answer) -> list[str]:
    """Where ``observed`` departs from ``claim`` (empty: they agree). Header names compare
    case-insensitively; only what the claim states is compared."""
    out: list[str] = []
    if claim.status is not None and claim.status != observed.status:
        out.append(f"status: claimed {claim.status}, observed {observed.status}")
    seen = {name.lower(): value for name, value in observed.headers.items()}
    for name, value in claim.headers.items():
        got = seen.get(name.lower(), ABSENT)
        if got != value:
            out.append(f"header {name}: claimed {value!r}, observed {got!r}")
    if claim.message is not None and claim.message != observed.message:
        out.append(f"message: claimed {claim.message!r}, observed {observed.message!r}")
    return out


def _row(key: str, probe: Probe | None, record: Mapping[str, Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"key": key}
    if probe is not None:
        row.update(
            fidelity_row=probe.row,
            confidence=probe.confidence,
            evidence=probe.evidence,
            asks=probe.asks,
        )
    row.update(claim=None, observed=None, differences=[])
    if record is None:
        row["result"] = "not probed"
    elif record.get("not_applicable"):
        row.update(result="not applicable", note=str(record["not_applicable"]))
    else:
        claim = Answer.from_json(record["claim"])
        observed = Answer.from_json(record["observed"])
        found = differences(claim, observed)
        row.update(
            result="differs" if found else "agrees",
            claim=claim.to_json(),
            observed=observed.to_json(),
            differences=found,
        )
    return row


def build_report(
    records: Mapping[str, Mapping[str, Any]],
    target: Mapping[str, Any],
    outcomes: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The fidelity report: one row per probe (recorded or not), the target's version
    and edition, and counts. ``outcomes`` maps a probe key to why it was not recorded
    (its check was skipped or failed)."""
    rows = [_row(key, PROBES.get(key), records.get(key)) for key in sorted({*PROBES, *records})]
    for row in rows:
        if row["result"] == "not probed" and outcomes and row["key"] in outcomes:
            row["note"] = outcomes[row["key"]]
    counts = {
        result: sum(1 for r in rows if r["result"] == result)
        for result in ("agrees", "differs", "not applicable", "not probed")
    }
    return {
        "format": REPORT_FORMAT,
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": {
            "kind": target.get("kind", "unknown"),
            "version": target.get("version", "unknown"),
            "edition": target.get("edition", "unknown"),
        },
        "summary": counts,
        "rows": rows,
    }


def write_report(path: str, report: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")


def encode_record(claim: Answer | None, observed: Answer | None, not_applicable: str = "") -> str:
    """A probe's record as the text of its test property."""
    if not_applicable:
        return json.dumps({"not_applicable": not_applicable})
    assert claim is not None and observed is not None
    return json.dumps({"claim": claim.to_json(), "observed": observed.to_json()})
