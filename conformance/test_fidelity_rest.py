"""Fidelity probes of the REST API: what the target answers where the emulator's reading
of a real server is only medium or low confidence (the M and L rows of docs/fidelity.md;
repository paths: ``test_fidelity.py``). See :mod:`conformance.probes`."""

from __future__ import annotations

import re
import uuid

import requests

from conformance.client import RestClient
from conformance.fidelity import ABSENT, PRESENT, Answer
from conformance.probes import CHALLENGE, Recorder, deployed, missing_repo
from conformance.targets import Capabilities

FILE_INFO = "application/vnd.org.jfrog.artifactory.storage.FileInfo+json"
COPY_RESULT = "application/vnd.org.jfrog.artifactory.storage.CopyOrMoveResult+json"
TEXT = {"Content-Type": "text/plain"}


def _revision(version: str) -> str:
    """The revision every on-premises 7.x server reports for its version."""
    parts = [int(m.group()) if (m := re.match(r"\d+", p)) else 0 for p in version.split(".")]
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return str(major * 10_000_000 + minor * 100_000 + patch * 1_000 + 900)


def _major(version: str) -> int | None:
    found = re.match(r"\d+", version)
    return int(found.group()) if found else None


# -- storage API ------------------------------------------------------------------------------


def test_fidelity_accept_not_acceptable(rest: RestClient, area: str, probe: Recorder) -> None:
    deployed(rest, f"{area}/f.txt")
    url = rest.storage_url(f"{area}/f.txt")
    resp = rest.request("GET", url, headers={"Accept": "text/html"})
    claim = Answer(406, {"Content-Type": "application/json"}, "Not Acceptable")
    probe.record("accept-not-acceptable", claim, resp)


def test_fidelity_accept_vendor_mismatch(rest: RestClient, area: str, probe: Recorder) -> None:
    deployed(rest, f"{area}/f.txt")
    url = rest.storage_url(f"{area}/f.txt")
    resp = rest.request("GET", url, headers={"Accept": "application/xml"})
    message = f"Resource produces {FILE_INFO} but client only accepts [application/xml]"
    probe.record("accept-vendor-mismatch", Answer(406, {}, message), resp)


def test_fidelity_properties_missing_item(rest: RestClient, area: str, probe: Recorder) -> None:
    url = rest.storage_url(f"{area}/missing.txt")
    resp = rest.request("GET", url, params={"properties": ""})
    probe.record("properties-missing-item", Answer(404, {}, "No properties could be found."), resp)


def test_fidelity_prop_search_no_criterion(rest: RestClient, probe: Recorder) -> None:
    resp = rest.request("GET", f"{rest.base_url}/api/search/prop")
    probe.record("prop-search-no-criterion", Answer(404, {}, "Not Found"), resp)


# -- AQL --------------------------------------------------------------------------------------


def _aql(rest: RestClient, query: str) -> str:
    return query.replace("<repo>", rest.repo)


def test_fidelity_aql_query_length(
    rest: RestClient, probe: Recorder, capabilities: Capabilities
) -> None:
    query = _aql(rest, f'items.find({{"repo":"<repo>","name":"{uuid.uuid4().hex}"}})')
    query += " " * (6001 - len(query))
    resp = rest.request("POST", f"{rest.base_url}/api/search/aql", data=query, headers=TEXT)
    major = _major(capabilities.version)
    if major is None:
        probe.not_applicable("aql-query-length", "the server's version is unknown")
        return
    claim = Answer(400) if major >= 7 else Answer(200)
    probe.record("aql-query-length", claim, resp, message=None)


def test_fidelity_aql_parse_error(rest: RestClient, probe: Recorder) -> None:
    query = 'items.find({"repo":"<repo>"}).bogus()'
    resp = rest.request(
        "POST", f"{rest.base_url}/api/search/aql", data=_aql(rest, query), headers=TEXT
    )
    message = (
        f"Failed to parse query: {query}, it looks like there is syntax error near the "
        "following sub-query: bogus()"
    )
    claim = Answer(400, {"Content-Type": "application/json"}, message)
    probe.record("aql-parse-error", claim, resp)


def test_fidelity_aql_anonymous(rest: RestClient, probe: Recorder, anonymous_allowed: bool) -> None:
    query = _aql(rest, 'items.find({"repo":"<repo>","name":"none"})')
    anonymous = rest.anonymous()
    resp = anonymous.request("POST", f"{rest.base_url}/api/search/aql", data=query, headers=TEXT)
    if anonymous_allowed:
        message = "Only non-anonymous users are allowed to access AQL queries"
    else:
        message = "Authentication is required"
    probe.record("aql-anonymous", Answer(401, {"WWW-Authenticate": CHALLENGE}, message), resp)


def _aql_names(rest: RestClient, query: str) -> tuple[requests.Response, str]:
    """The answer to ``query`` and its results' names, sorted and comma-joined."""
    resp = rest.request(
        "POST", f"{rest.base_url}/api/search/aql", data=_aql(rest, query), headers=TEXT
    )
    rows = resp.json().get("results", []) if resp.status_code == 200 else []
    return resp, ",".join(sorted(str(r.get("name")) for r in rows if isinstance(r, dict)))


def test_fidelity_aql_catch_all_property(rest: RestClient, area: str, probe: Recorder) -> None:
    url = rest.item_url(f"{area}/with.txt") + ";fidelity.k=v"  # a property at deploy time
    assert rest.request("PUT", url, data=b"p").status_code == 201
    deployed(rest, f"{area}/without.txt")
    query = 'items.find({"repo":"<repo>","path":"<area>","@*":{"$match":"*"}}).include("name")'
    resp, names = _aql_names(rest, query.replace("<area>", area))
    probe.record("aql-catch-all-property", Answer(200, {}, "with.txt"), resp, names)


def test_fidelity_aql_relative_time(rest: RestClient, area: str, probe: Recorder) -> None:
    deployed(rest, f"{area}/now.txt")
    seen = []
    for op in ("$last", "$before"):
        query = f'items.find({{"repo":"<repo>","path":"{area}","created":{{"{op}":"1d"}}}})'
        resp, names = _aql_names(rest, query)
        if resp.status_code != 200:
            break
        seen.append(f"{op}={names}")
    claim = Answer(200, {}, "$last=now.txt $before=")
    probe.record("aql-relative-time", claim, resp, " ".join(seen))


# -- copy, system, repositories, tokens ---------------------------------------------------------


def test_fidelity_copy_result_message(
    rest: RestClient, area: str, probe: Recorder, capabilities: Capabilities
) -> None:
    if not probe.on_edition("copy-result-message", capabilities, "pro"):
        return
    deployed(rest, f"{area}/c/f.txt")
    url = f"{rest.base_url}/api/copy/{rest.repo}/{area}/c/f.txt"
    resp = rest.request("POST", url, params={"to": f"/{rest.repo}/{area}/c/g.txt"})
    try:
        message = str(resp.json()["messages"][0]["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        message = resp.text[:300]
    claim = Answer(
        200,
        {"Content-Type": COPY_RESULT},
        "copying <repo>:<area>/c/f.txt to <repo>:<area>/c/g.txt completed successfully, "
        "1 artifacts and 0 folders were copied",
    )
    probe.record("copy-result-message", claim, resp, message=message)


def test_fidelity_identity_headers(
    rest: RestClient, probe: Recorder, capabilities: Capabilities
) -> None:
    version = capabilities.version
    major = _major(version)
    if major is None:
        probe.not_applicable("identity-headers", "the server's version is unknown")
        return
    if major >= 7:
        headers = {
            "X-JFrog-Version": f"Artifactory/{version} {_revision(version)}",
            "X-Artifactory-Id": PRESENT,
            "X-Artifactory-Node-Id": PRESENT,
            "Server": ABSENT,
        }
    else:
        headers = {
            "Server": f"Artifactory/{version}",
            "X-Artifactory-Id": PRESENT,
            "X-JFrog-Version": ABSENT,
        }
    resp = rest.request("GET", f"{rest.base_url}/api/system/version")
    probe.record("identity-headers", Answer(200, headers), resp, message=None)


def test_fidelity_usage_report(rest: RestClient, probe: Recorder) -> None:
    """One usage report of the kind JFrog CLI sends after its commands."""
    report = {"productId": "jfrog-mlflow-conformance/1", "features": [{"featureId": "probe"}]}
    resp = rest.request("POST", f"{rest.base_url}/api/system/usage", json=report)
    probe.record("usage-report", Answer(202, {}, ""), resp)


def test_fidelity_repository_config_missing(rest: RestClient, probe: Recorder) -> None:
    resp = rest.request("GET", f"{rest.base_url}/api/repositories/{missing_repo(probe)}")
    claim = Answer(400, {}, "Repository <missing-repo> does not exist")
    probe.record("repository-config-missing", claim, resp)


def _access_root(rest: RestClient, probe: Recorder, key: str) -> str | None:
    """Where the Access API is (the base URL without ``/artifactory``); None (recorded as
    not applicable) when that cannot be told."""
    if not probe.applies(
        key,
        rest.base_url.endswith("/artifactory"),
        "the Access API's address is unknown (no /artifactory)",
    ):
        return None
    return rest.base_url[: -len("/artifactory")]


def test_fidelity_access_token_revoke_unknown(rest: RestClient, probe: Recorder) -> None:
    key = "access-token-revoke-unknown"
    root = _access_root(rest, probe, key)
    if root is None:
        return
    resp = rest.request("DELETE", f"{root}/access/api/v1/tokens/{uuid.uuid4()}")
    probe.record(key, Answer(404, {}, "Token not found"), resp)


# -- folder download ----------------------------------------------------------------------------


def _folder_archive(
    rest: RestClient, area: str, probe: Recorder, key: str, status: int, **params: str
) -> requests.Response | None:
    """A folder of the area as an archive, or None (recorded) when the server has folder
    download switched off (``status`` of the session's folder download probe)."""
    if not probe.applies(key, status == 200, f"folder download off (HTTP {status})"):
        return None
    deployed(rest, f"{area}/fd/a.txt")
    url = f"{rest.base_url}/api/archive/download/{rest.repo}/{area}/fd"
    return rest.request("GET", url, params=params)


def test_fidelity_folder_download_archive_headers(
    rest: RestClient, area: str, probe: Recorder, folder_download_probe: tuple[int, str]
) -> None:
    key = "folder-download-archive-headers"
    resp = _folder_archive(rest, area, probe, key, folder_download_probe[0], archiveType="tar")
    if resp is not None:
        disposition = "attachment; filename=\"fd.tar\"; filename*=UTF-8''fd.tar"
        claim = Answer(
            200, {"Content-Type": "application/x-tar", "Content-Disposition": disposition}
        )
        probe.record(key, claim, resp, message=None)


def test_fidelity_folder_download_default_type(
    rest: RestClient, area: str, probe: Recorder, folder_download_probe: tuple[int, str]
) -> None:
    key = "folder-download-default-type"
    resp = _folder_archive(rest, area, probe, key, folder_download_probe[0])
    if resp is not None:
        probe.record(key, Answer(200, {"Content-Type": "application/zip"}), resp, message=None)


def test_fidelity_folder_download_anonymous(
    rest: RestClient, area: str, probe: Recorder, anonymous_allowed: bool
) -> None:
    deployed(rest, f"{area}/fd/a.txt")
    url = f"{rest.base_url}/api/archive/download/{rest.repo}/{area}/fd?archiveType=zip"
    resp = rest.anonymous().request("GET", url)
    message = "Unauthorized" if anonymous_allowed else "Authentication is required"
    claim = Answer(401, {"WWW-Authenticate": CHALLENGE}, message)
    probe.record("folder-download-anonymous", claim, resp)


# -- security API and projects (read-only: names that do not exist) -----------------------------


def _missing_name(probe: Recorder, placeholder: str) -> str:
    """A name no user, group, target or project has (lower-case letters and digits)."""
    return probe.name(placeholder, f"cm{uuid.uuid4().hex[:12]}")


def _security_missing(
    rest: RestClient, probe: Recorder, capabilities: Capabilities, key: str, path: str, kind: str
) -> None:
    if not probe.on_edition(key, capabilities, "pro"):
        return
    name = _missing_name(probe, f"<missing-{kind}>")
    resp = rest.request("GET", f"{rest.base_url}/api/security/{path}/{name}")
    claims = {
        "user": f"User '<missing-{kind}>' does not exist",
        "group": f"Group '<missing-{kind}>' does not exist",
        "target": f"No such permission target '<missing-{kind}>'",
    }
    probe.record(key, Answer(404, {}, claims[kind]), resp)


def test_fidelity_security_user_missing(
    rest: RestClient, probe: Recorder, capabilities: Capabilities
) -> None:
    _security_missing(rest, probe, capabilities, "security-user-missing", "users", "user")


def test_fidelity_security_group_missing(
    rest: RestClient, probe: Recorder, capabilities: Capabilities
) -> None:
    _security_missing(rest, probe, capabilities, "security-group-missing", "groups", "group")


def test_fidelity_permission_target_missing(
    rest: RestClient, probe: Recorder, capabilities: Capabilities
) -> None:
    key = "permission-target-missing"
    _security_missing(rest, probe, capabilities, key, "permissions", "target")


def test_fidelity_encrypted_password(rest: RestClient, probe: Recorder) -> None:
    resp = rest.request("GET", f"{rest.base_url}/api/security/encryptedPassword")
    claim = Answer(200, {"Content-Type": "text/plain"})
    probe.record("encrypted-password", claim, resp, message=None)


def test_fidelity_project_missing(rest: RestClient, probe: Recorder) -> None:
    key = "project-missing"
    root = _access_root(rest, probe, key)
    if root is None:
        return
    name = _missing_name(probe, "<missing-project>")
    resp = rest.request("GET", f"{root}/access/api/v1/projects/{name}")
    probe.record(key, Answer(404, {}, "Project '<missing-project>' not found"), resp)


# -- virtual repositories (when the target has one over the conformance repository) -------------


def _virtual_over(rest: RestClient, probe: Recorder, key: str) -> tuple[str, str | None] | None:
    """A virtual repository of the target that reads the conformance repository: its key
    (written ``<virtual>`` in observations) and default deployment repository; None
    (recorded as not applicable) when there is none."""
    listing = rest.request("GET", f"{rest.base_url}/api/repositories", params={"type": "virtual"})
    entries = listing.json() if listing.status_code == 200 else []
    for entry in entries if isinstance(entries, list) else []:
        virtual = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(virtual, str):
            continue
        config = rest.request("GET", f"{rest.base_url}/api/repositories/{virtual}")
        body = config.json() if config.status_code == 200 else {}
        if isinstance(body, dict) and rest.repo in (body.get("repositories") or []):
            default = body.get("defaultDeploymentRepo")
            return probe.name("<virtual>", virtual), default if isinstance(default, str) else None
    probe.not_applicable(key, "no virtual repository reads the conformance repository")
    return None


def test_fidelity_virtual_read(rest: RestClient, area: str, probe: Recorder) -> None:
    found = _virtual_over(rest, probe, "virtual-read")
    if found is None:
        return
    deployed(rest, f"{area}/v.txt")
    resp = rest.request("GET", f"{rest.base_url}/api/storage/{found[0]}/{area}/v.txt")
    body = resp.json() if resp.status_code == 200 else {}
    probe.record(
        "virtual-read", Answer(200, {}, "repo=<virtual>"), resp, f"repo={body.get('repo')}"
    )


def test_fidelity_virtual_delete(rest: RestClient, area: str, probe: Recorder) -> None:
    """Deletes only the area's own file, whatever the target does."""
    found = _virtual_over(rest, probe, "virtual-delete")
    if found is None:
        return
    deployed(rest, f"{area}/d.txt")
    resp = rest.request("DELETE", f"{rest.base_url}/{found[0]}/{area}/d.txt")
    claim = Answer(
        404, {}, "Could not locate artifact '<virtual>:<area>/d.txt' (Nothing to delete)."
    )
    probe.record("virtual-delete", claim, resp)


def test_fidelity_aql_virtual_repo(rest: RestClient, area: str, probe: Recorder) -> None:
    found = _virtual_over(rest, probe, "aql-virtual-repo")
    if found is None:
        return
    deployed(rest, f"{area}/q.txt")
    query = f'items.find({{"repo":"{found[0]}","path":"{area}","name":"q.txt"}})'
    resp = rest.request("POST", f"{rest.base_url}/api/search/aql", data=query, headers=TEXT)
    rows = resp.json().get("results", []) if resp.status_code == 200 else []
    seen = [f"repo={r.get('repo')} virtual_repos={r.get('virtual_repos')}" for r in rows]
    claim = Answer(200, {}, "repo=<repo> virtual_repos=['<virtual>']")
    probe.record("aql-virtual-repo", claim, resp, "; ".join(seen))


def test_fidelity_virtual_deploy_repo(rest: RestClient, area: str, probe: Recorder) -> None:
    key = "virtual-deploy-repo"
    found = _virtual_over(rest, probe, key)
    if found is None or not probe.applies(
        key, found[1] == rest.repo, "the virtual repository deploys elsewhere"
    ):
        return
    resp = rest.request("PUT", f"{rest.base_url}/{found[0]}/{area}/p.txt", data=b"p")
    body = resp.json() if resp.status_code == 201 else {}
    probe.record(key, Answer(201, {}, "repo=<repo>"), resp, f"repo={body.get('repo')}")
