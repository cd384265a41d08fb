"""Repository configuration as Artifactory returns it, and virtual repositories (pure).

``PUT /api/repositories/{key}`` stores the configuration sent; ``GET`` answers it laid
over the defaults a real server adds for the repository's class and package type
(:func:`config_json`).  The ``enable<Type>Support`` flags are derived from the package
type whatever was sent, as in Artifactory's model.  The defaults are those of
Artifactory's configuration classes as a real 7.x server prints them (see
docs/fidelity.md for the sources).

A virtual repository stores nothing: reads resolve through its members
(:func:`resolution_order`), deploys go to its default deployment repository.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fake_artifactory.core.errors import HttpError
from fake_artifactory.core.records import RepoRecord

RCLASSES = frozenset({"local", "remote", "virtual", "federated"})
#: Classes the emulator can create (a remote needs a network; federation other servers).
CREATABLE = frozenset({"local", "virtual"})
REPO_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: Fields the repository record itself holds (never taken from the stored configuration).
OWN_FIELDS = ("key", "rclass", "packageType", "description")

LOCAL_TYPE = "application/vnd.org.jfrog.artifactory.repositories.LocalRepositoryConfiguration+json"
VIRTUAL_TYPE = (
    "application/vnd.org.jfrog.artifactory.repositories.VirtualRepositoryConfiguration+json"
)

#: Package type -> the ``enable...Support`` flag it switches on (Artifactory's spelling,
#: ``enabledChefSupport`` included).
SUPPORT_FLAGS: dict[str, str] = {
    "composer": "enableComposerSupport",
    "nuget": "enableNuGetSupport",
    "gems": "enableGemsSupport",
    "npm": "enableNpmSupport",
    "bower": "enableBowerSupport",
    "cocoapods": "enableCocoaPodsSupport",
    "conan": "enableConanSupport",
    "debian": "enableDebianSupport",
    "pypi": "enablePypiSupport",
    "puppet": "enablePuppetSupport",
    "docker": "enableDockerSupport",
    "vagrant": "enableVagrantSupport",
    "gitlfs": "enableGitLfsSupport",
    "distribution": "enableDistRepoSupport",
    "chef": "enabledChefSupport",
}
_LAYOUTS = {
    "maven": "maven-2-default",
    "gradle": "maven-2-default",
    "ivy": "ivy-default",
    "sbt": "sbt-default",
    "npm": "npm-default",
    "bower": "bower-default",
    "go": "go-default",
    "nuget": "nuget-default",
    "composer": "composer-default",
}
#: Further per-type differences of a local repository's answer.
_TYPE_EXTRAS: dict[str, dict[str, Any]] = {
    "debian": {"optionalIndexCompressionFormats": ["bz2"]},
    "maven": {"suppressPomConsistencyChecks": False},
    "rpm": {"calculateYumMetadata": True, "yumGroupFileNames": "groups.xml"},
}

_COMMON: dict[str, Any] = {
    "notes": "",
    "includesPattern": "**/*",
    "excludesPattern": "",
    "repoLayoutRef": "simple-default",
    **dict.fromkeys(SUPPORT_FLAGS.values(), False),
    "debianTrivialLayout": False,
    "dockerApiVersion": "V2",
}
_LOCAL: dict[str, Any] = {
    **_COMMON,
    "blockPushingSchema1": True,
    "forceNugetAuthentication": False,
    "priorityResolution": False,
    "checksumPolicyType": "client-checksums",
    "handleReleases": True,
    "handleSnapshots": True,
    "maxUniqueSnapshots": 0,
    "maxUniqueTags": 0,
    "snapshotVersionBehavior": "unique",
    "suppressPomConsistencyChecks": True,
    "blackedOut": False,
    "propertySets": [],
    "archiveBrowsingEnabled": False,
    "calculateYumMetadata": False,
    "enableFileListsIndexing": False,
    "yumRootDepth": 0,
    "dockerTagRetention": 1,
    "xrayIndex": False,
    "cargoAnonymousAccess": False,
    "downloadRedirect": False,
    "cdnRedirect": False,
}
_VIRTUAL: dict[str, Any] = {
    **_COMMON,
    "repositories": [],
    "artifactoryRequestsCanRetrieveRemoteArtifacts": False,
    "resolveDockerTagsByTimestamp": False,
    "keyPair": "",
    "pomRepositoryReferencesCleanupPolicy": "discard_active_reference",
    "externalDependenciesEnabled": False,
    "virtualRetrievalCachePeriodSecs": 7200,
    "forceMavenAuthentication": False,
    "debianDefaultArchitectures": "i386,amd64",
}
_VIRTUAL_EXTRAS: dict[str, dict[str, Any]] = {
    "generic": {"virtualRetrievalCachePeriodSecs": 600},
}


#: Package types a real server stores under another name (jfrog-client-go's repository
#: tests, run against a real server, read "yum" back as "rpm").
_PACKAGE_TYPE_ALIASES = {"yum": "rpm"}


def _bad(message: str) -> HttpError:
    return HttpError(400, message, plain=True)


def config_json(repo: RepoRecord) -> dict[str, Any]:
    """The full ``GET /api/repositories/{key}`` answer (an admin's)."""
    kind = repo.package_type
    virtual = repo.rclass == "virtual"
    body: dict[str, Any] = {"key": repo.key, "packageType": kind, "description": repo.description}
    body.update(_VIRTUAL if virtual else _LOCAL)
    body["repoLayoutRef"] = _LAYOUTS.get(kind, "simple-default")
    body.update((_VIRTUAL_EXTRAS if virtual else _TYPE_EXTRAS).get(kind, {}))
    body.update({k: v for k, v in repo.config.items() if k not in OWN_FIELDS})
    for package, flag in SUPPORT_FLAGS.items():
        body[flag] = package == kind
    if virtual and not body.get("defaultDeploymentRepo"):
        body.pop("defaultDeploymentRepo", None)
    if "downloadRedirect" in body:
        # Honoured by Enterprise Plus only, which the emulator never is.
        body["downloadRedirect"] = False
    body["rclass"] = repo.rclass
    return body


def partial_json(repo: RepoRecord) -> dict[str, Any]:
    """What a user who is not an admin gets (Artifactory's ``Public...RepoConfig``)."""
    body: dict[str, Any] = {
        "key": repo.key,
        "rclass": repo.rclass,
        "packageType": repo.package_type,
        "description": repo.description,
    }
    if repo.rclass == "virtual":
        body["repositories"] = list(repo.members)
    return body


def content_type(repo: RepoRecord) -> str:
    return VIRTUAL_TYPE if repo.rclass == "virtual" else LOCAL_TYPE


def parse_create(key: str, body: Any) -> RepoRecord:
    """The repository a ``PUT /api/repositories/{key}`` describes (members unchecked)."""
    if not isinstance(body, dict):
        raise _bad("Repository configuration must be a JSON object")
    raw_rclass = body.get("rclass", "local")
    if not isinstance(raw_rclass, str) or raw_rclass.lower() not in RCLASSES:
        raise _bad(
            "Invalid repository configuration: 'rclass' must be one of "
            + ", ".join(sorted(RCLASSES))
        )
    raw_type = body.get("packageType", "generic")
    if not isinstance(raw_type, str) or not raw_type:
        raise _bad("Invalid repository configuration: 'packageType' must be a string")
    if not REPO_KEY.match(key):
        raise _bad(f"Invalid repository key: {key}")
    description = body.get("description") or ""
    config = {k: v for k, v in body.items() if k not in OWN_FIELDS}
    package_type = _PACKAGE_TYPE_ALIASES.get(raw_type.lower(), raw_type.lower())
    return RepoRecord(key, raw_rclass.lower(), package_type, str(description), config)


def parse_update(repo: RepoRecord, body: Any) -> RepoRecord:
    """``repo`` with the fields a ``POST /api/repositories/{key}`` sends merged in
    (its key, class and package type stay)."""
    if not isinstance(body, dict):
        raise _bad("Repository configuration must be a JSON object")
    description = body.get("description")
    config = {**repo.config, **{k: v for k, v in body.items() if k not in OWN_FIELDS}}
    return replace(
        repo,
        description=repo.description if description is None else str(description),
        config=config,
    )


def check_virtual(repo: RepoRecord, repos: Mapping[str, RepoRecord]) -> None:
    """What a virtual repository's configuration must satisfy (messages ours)."""
    members = repo.config.get("repositories", [])
    if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
        raise _bad("Invalid repository configuration: 'repositories' must be a list of keys")
    for member in members:
        if member == repo.key:
            raise _bad(f"Virtual repository {repo.key} cannot include itself")
        if member not in repos:
            raise _bad(f"Repository {member} does not exist")
    everything = {**repos, repo.key: repo}
    nested = resolution_order(repo.key, everything, include_virtual=True)[1:]
    if any(repo.key in everything[k].members for k in nested if everything[k].rclass == "virtual"):
        raise _bad(f"Virtual repository {repo.key} includes itself through its members")
    default = repo.config.get("defaultDeploymentRepo")
    if default in (None, ""):
        return
    if not isinstance(default, str) or default not in resolution_order(repo.key, everything):
        raise _bad(
            f"Default deployment repository {default} is not a local repository of "
            f"virtual repository {repo.key}"
        )


def resolution_order(
    key: str, repos: Mapping[str, RepoRecord], *, include_virtual: bool = False
) -> list[str]:
    """The repositories a read of ``key`` looks in, in order: a local repository is its
    own; a virtual one's local members come first in the order listed, then those of its
    virtual members, depth first, each repository once (Artifactory searches local
    repositories before remote ones, each kind in order of appearance).
    ``include_virtual`` adds the virtual repositories met on the way (``key`` first)."""
    root = repos.get(key)
    if root is None:
        return []
    if root.rclass != "virtual":
        return [key]
    found: list[str] = [key] if include_virtual else []
    seen = {key}

    def walk(repo: RepoRecord) -> None:
        members = [repos[m] for m in repo.members if m in repos]
        for member in members:
            if member.rclass == "local" and member.key not in found:
                found.append(member.key)
        for member in members:
            if member.rclass == "virtual" and member.key not in seen:
                seen.add(member.key)
                if include_virtual:
                    found.append(member.key)
                walk(member)

    walk(root)
    return found


def virtual_repos_of(repos: Mapping[str, RepoRecord]) -> dict[str, tuple[str, ...]]:
    """For each local repository, the virtual repositories whose reads reach it (directly
    or through virtual members), sorted; repositories in none are absent."""
    seen: dict[str, list[str]] = {}
    for key in sorted(k for k, r in repos.items() if r.rclass == "virtual"):
        for member in resolution_order(key, repos):
            seen.setdefault(member, []).append(key)
    return {member: tuple(keys) for member, keys in seen.items()}


def without_member(repo: RepoRecord, key: str) -> RepoRecord:
    """A virtual repository once repository ``key`` is deleted (Artifactory drops it
    from the members and, if it was the default deployment repository, from there)."""
    config = dict(repo.config)
    config["repositories"] = [m for m in repo.members if m != key]
    if config.get("defaultDeploymentRepo") == key:
        config.pop("defaultDeploymentRepo")
    return replace(repo, config=config)
