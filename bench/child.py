"""What one benchmark child process runs: one contender, one action, results as JSON.

Run as ``python -m bench.child SPEC.json`` by :mod:`bench.workloads`, with the interpreter
of the environment that has the contender installed. The result goes to the file named by
the spec's ``result_file`` (never stdout: JFrog's plugin prints on every construction).
Timings exclude interpreter start-up and imports; request counts come from the emulator's
journal, read and cleared around each timed phase.

Timed phases also report the CPU time (user + system, all threads) the child process
spent in them (``cpu_<key>``): on a real deployment the server is another machine, so this
is what a client costs per file.

Contenders: ``ours`` (``jfrog_mlflow``; ``ours-fd`` the same against an emulator with Folder
Download on; ``ours-perfile`` and ``ours-perfile-fd`` with its archive transfers off,
``ours-perfile-nobar`` also with MLflow's progress bars off),
``jfrog`` (``mlflow-jfrog-plugin``), ``s3`` (MLflow's S3 store on moto), ``requests`` (a
plain pooled ``requests`` loop, no listing) and ``copy`` (local file copy). Each repository
class is instantiated directly, never through MLflow's scheme registry, because both
plugins claim ``artifactory://``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from bench.clients import (
    RAW_THREADS,
    S3_BUCKET,
    Result,
    Skip,
    Spec,
    ensure_bucket,
    raw_session,
    s3_env,
    timed,
)
from bench.rps import action_rps
from bench.seed import action_reset, action_seed

__all__ = ["main", "run_spec"]

#: The contenders that are our plugin (in its variants).
OURS = frozenset(
    {"ours", "ours-fd", "ours-perfile", "ours-perfile-fd", "ours-perfile-nobar", "ours-skinny"}
)


# --------------------------------------------------------------------------- helpers


def _proc_status_kib(field: str) -> int:
    """Return a ``/proc/self/status`` field in KiB (0 where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Journal:
    """Reads and clears the emulator's request journal (control plane, not journaled).

    ``art``: the emulator part of the spec (``root_url``, and ``control_token`` when its
    control plane is guarded); None when the contender does not talk to the emulator.
    """

    def __init__(self, art: Spec | None) -> None:
        self.root_url = (art or {}).get("root_url")
        self.session = requests.Session()
        control_token = (art or {}).get("control_token")
        if control_token:
            self.session.headers["Authorization"] = f"Bearer {control_token}"

    def clear(self) -> None:
        if self.root_url:
            self.session.delete(f"{self.root_url}/_fake/requests", timeout=60).raise_for_status()

    def take(self) -> dict[str, int] | None:
        """Return request counts by method (and ``total``) and clear the journal.

        None when the contender does not talk to the emulator (nothing to count).
        """
        if not self.root_url:
            return None
        resp = self.session.get(f"{self.root_url}/_fake/requests", timeout=120)
        resp.raise_for_status()
        counts: dict[str, int] = {"total": 0}
        for entry in resp.json()["requests"]:
            method = str(entry.get("method", "?")).upper()
            counts[method] = counts.get(method, 0) + 1
            counts["total"] += 1
        self.clear()
        return counts


def _count_files(root: Path) -> tuple[int, int]:
    files = 0
    size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(folder, name))
    return files, size


# --------------------------------------------------------------------------- repositories


def make_repo(spec: Spec) -> Any:
    """Construct the contender's MLflow artifact repository rooted at ``bench/``."""
    contender = spec["contender"]
    art = spec.get("art") or {}
    if contender in OURS:
        if contender.startswith("ours-perfile"):  # the same plugin, archive transfers off
            os.environ["MLFLOW_ARTIFACTORY_BATCH_UPLOAD"] = "off"
            os.environ["MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD"] = "off"
        if contender == "ours-perfile-nobar":  # and MLflow's progress bars off
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        os.environ["MLFLOW_ARTIFACTORY_ENDPOINT_URL"] = art["url"]
        os.environ["MLFLOW_ARTIFACTORY_TOKEN"] = art["token"]
        os.environ["MLFLOW_ARTIFACTORY_REPO"] = art["repo"]
        try:
            from jfrog_mlflow.repository import ArtifactoryArtifactRepository
        except ImportError as exc:
            raise Skip(f"jfrog_mlflow not importable: {exc}") from exc
        return ArtifactoryArtifactRepository("artifactory://bench/")
    if contender == "jfrog":
        os.environ["ARTIFACTORY_AUTH_TOKEN"] = art["token"]
        os.environ["ARTIFACTORY_NO_SSL"] = "true"
        try:
            from plugin.artifactory_repository import (  # type: ignore[import-not-found]
                JFrogArtifactoryRepository,
            )
        except ImportError as exc:
            raise Skip(f"mlflow-jfrog-plugin not installed: {exc}") from exc
        hostport = art["url"].split("://", 1)[1].split("/", 1)[0]
        # The plugin prints on construction; keep our child's stdout quiet.
        with _stdout_to_stderr():
            return JFrogArtifactoryRepository(
                f"artifactory://{hostport}/artifactory/{art['repo']}/bench"
            )
    if contender == "s3":
        s3 = spec["s3"]
        s3_env(s3["endpoint"])
        try:
            from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository
        except ImportError as exc:
            raise Skip(f"mlflow S3 store not importable: {exc}") from exc
        ensure_bucket(s3["endpoint"])
        return S3ArtifactRepository(f"s3://{S3_BUCKET}/bench")
    raise ValueError(f"contender {contender!r} has no artifact repository")


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        sys.stdout = saved


def _download(repo: Any, contender: str, path: str, dst: str) -> str:
    """Download through MLflow's algorithm; JFrog's own override cannot write into a dir."""
    if contender == "jfrog":
        # mlflow-jfrog-plugin 1.0.2 overrides download_artifacts and passes the destination
        # *directory* to _download_file (IsADirectoryError) and never recurses; measure its
        # primitives under MLflow's base-class algorithm instead, its most favourable case.
        from mlflow.store.artifact.artifact_repo import ArtifactRepository

        with _stdout_to_stderr():
            return str(ArtifactRepository.download_artifacts(repo, path, dst))  # type: ignore[no-untyped-call]
    return str(repo.download_artifacts(path, dst))


# --------------------------------------------------------------------------- raw baselines


def _thread_map(fn: Callable[[requests.Session, str], None], items: list[str], token: str) -> None:
    local = threading.local()

    def call(item: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = raw_session(token)
        fn(session, item)

    with ThreadPoolExecutor(RAW_THREADS) as pool:
        for _ in pool.map(call, items):
            pass


def _raw_upload(art: dict[str, Any], src: Path, prefix: str) -> None:
    base = f"{art['url']}/{art['repo']}/bench/{prefix}"
    rels = sorted(str(p.relative_to(src).as_posix()) for p in src.rglob("*") if p.is_file())

    def put(session: requests.Session, rel: str) -> None:
        with (src / rel).open("rb") as body:
            session.put(f"{base}/{rel}", data=body, timeout=300).raise_for_status()

    _thread_map(put, rels, art["token"])


def _raw_download(art: dict[str, Any], rels: list[str], prefix: str, dst: Path) -> None:
    base = f"{art['url']}/{art['repo']}/bench/{prefix}"

    def get(session: requests.Session, rel: str) -> None:
        target = dst / prefix / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with session.get(f"{base}/{rel}", stream=True, timeout=300) as resp:
            resp.raise_for_status()
            with target.open("wb") as out:
                for chunk in resp.iter_content(1 << 20):
                    out.write(chunk)

    _thread_map(get, rels, art["token"])


# --------------------------------------------------------------------------- actions


def action_tree(spec: Spec) -> Result:
    """W1/W2/W5: upload a tree (``up``), then download it (``down``); count requests."""
    contender = spec["contender"]
    src, dst, prefix = Path(spec["src"]), Path(spec["dst"]), spec["prefix"]
    phases = spec.get("phases", ["up", "down"])
    journal = Journal(spec.get("art"))
    result: Result = {}
    expected_files, expected_bytes = _count_files(src)
    dst.mkdir(parents=True, exist_ok=True)
    if contender == "copy":
        with timed(result, "up_s"):
            shutil.copytree(src, dst / "store" / prefix)
        with timed(result, "down_s"):
            shutil.copytree(dst / "store" / prefix, dst / prefix)
        got = dst / prefix
    elif contender == "requests":
        journal.clear()
        with timed(result, "up_s"):
            _raw_upload(spec["art"], src, prefix)
        result["up_requests"] = journal.take()
        rels = sorted(str(p.relative_to(src).as_posix()) for p in src.rglob("*") if p.is_file())
        with timed(result, "down_s"):
            _raw_download(spec["art"], rels, prefix, dst)
        result["down_requests"] = journal.take()
        got = dst / prefix
    else:
        repo = make_repo(spec)
        journal.clear()
        with timed(result, "up_s"), _stdout_to_stderr():
            repo.log_artifacts(str(src), prefix)
        result["up_requests"] = journal.take()
        if "down" not in phases:
            return result
        with timed(result, "down_s"):
            got = Path(_download(repo, contender, prefix, str(dst)))
        result["down_requests"] = journal.take()
    files, size = _count_files(got)
    result["files_ok"] = files == expected_files and size == expected_bytes
    if not result["files_ok"]:
        result["error"] = (
            f"downloaded {files} files / {size} bytes, expected {expected_files} / {expected_bytes}"
        )
    return result


def action_big_up(spec: Spec) -> Result:
    """W3 upload: one large file; reports seconds and resident memory before the transfer."""
    src = Path(spec["src"])
    result: Result = {"bytes": src.stat().st_size}
    if spec["contender"] == "copy":
        result["rss_before_kib"] = _proc_status_kib("VmRSS")
        with timed(result, "seconds"):
            shutil.copyfile(src, Path(spec["dst"]) / "store.bin")
    else:
        repo = make_repo(spec)
        result["rss_before_kib"] = _proc_status_kib("VmRSS")
        journal = Journal(spec.get("art"))
        journal.clear()
        with timed(result, "seconds"), _stdout_to_stderr():
            repo.log_artifact(str(src), spec["prefix"])
        result["requests"] = journal.take()
    result["hwm_kib"] = _proc_status_kib("VmHWM")
    return result


def action_big_down(spec: Spec) -> Result:
    """W3 download of the file ``action_big_up`` stored; verifies the size."""
    dst = Path(spec["dst"])
    dst.mkdir(parents=True, exist_ok=True)
    expected = int(spec["bytes"])
    result: Result = {"bytes": expected}
    if spec["contender"] == "copy":
        result["rss_before_kib"] = _proc_status_kib("VmRSS")
        with timed(result, "seconds"):
            shutil.copyfile(Path(spec["src"]), dst / "copy.bin")
        got = dst / "copy.bin"
    else:
        repo = make_repo(spec)
        result["rss_before_kib"] = _proc_status_kib("VmRSS")
        journal = Journal(spec.get("art"))
        journal.clear()
        remote = f"{spec['prefix']}/{spec['name']}"
        with timed(result, "seconds"):
            got = Path(_download(repo, spec["contender"], remote, str(dst)))
        result["requests"] = journal.take()
    result["hwm_kib"] = _proc_status_kib("VmHWM")
    size = got.stat().st_size if got.is_file() else -1
    if size != expected:
        result["error"] = f"downloaded {size} bytes, expected {expected}"
    return result


def action_listing(spec: Spec) -> Result:
    """W4: list the top folder, walk the whole tree; optionally download it (request count)."""
    contender, prefix = spec["contender"], spec["prefix"]
    repo = make_repo(spec)
    journal = Journal(spec.get("art"))
    result: Result = {}
    journal.clear()
    with timed(result, "list_s"), _stdout_to_stderr():
        top = repo.list_artifacts(prefix)
    result["list_entries"] = len(top)
    result["list_requests"] = journal.take()
    with timed(result, "walk_s"), _stdout_to_stderr():
        walked = [fi for fi in repo._iter_artifacts_recursive(prefix) if not fi.is_dir]
    result["walk_files"] = len(walked)
    result["walk_requests"] = journal.take()
    if spec.get("download"):
        dst = Path(spec["dst"])
        dst.mkdir(parents=True, exist_ok=True)
        with timed(result, "down_s"):
            got = Path(_download(repo, contender, prefix, str(dst)))
        result["down_requests"] = journal.take()
        result["down_files"] = _count_files(got)[0]
    return result


#: Files per archive when seeding the emulator (the plugin's own bound per archive).
def action_scale(spec: Spec) -> Result:
    """W7: deep listing, download planning and walk of a big tree (nothing downloaded).

    Reports each step's time and requests, and the process's resident memory after the
    imports and at its peak. Planning works on the deep listing (as a download does,
    inside the walk); the listing is dropped before the walk, which keeps its own (the
    sizes and checksums a download needs) and MLflow's list of files.
    """
    from jfrog_mlflow import listing
    from jfrog_mlflow.planning import plan_folder_archives

    prefix = spec["prefix"]
    repo = make_repo(spec)
    journal = Journal(spec.get("art"))
    result: Result = {"rss_before_kib": _proc_status_kib("VmRSS")}
    folder = f"bench/{prefix}"
    journal.clear()
    with timed(result, "list_s"):
        entries = listing.list_tree(repo.client, spec["art"]["repo"], folder) or []
    result["list_requests"] = journal.take()
    result["listed"] = sum(1 for e in entries if not e.is_folder)
    with timed(result, "plan_s"):
        parts = plan_folder_archives(folder, entries, repo._config, available=True)
    result["plan_requests"] = journal.take()
    result["plan_archives"] = len(parts)
    result["plan_archived_files"] = sum(len(p.targets) for p in parts)
    del entries, parts
    with timed(result, "walk_s"):
        walked = [fi for fi in repo._iter_artifacts_recursive(prefix) if not fi.is_dir]
    result["walk_requests"] = journal.take()
    result["walk_files"] = len(walked)
    result["hwm_kib"] = _proc_status_kib("VmHWM")
    return result


ACTIONS: dict[str, Callable[[Spec], Result]] = {
    "tree": action_tree,
    "big_up": action_big_up,
    "big_down": action_big_down,
    "listing": action_listing,
    "seed": action_seed,
    "scale": action_scale,
    "reset": action_reset,
    "rps": action_rps,
}


def run_spec(spec: Spec) -> Result:
    """Run one action and return its result (``skipped`` / ``error`` keys on failure)."""
    try:
        return ACTIONS[spec["action"]](spec)
    except Skip as exc:
        return {"skipped": str(exc)}
    except Exception as exc:  # noqa: BLE001 - report any failure of a contender, keep going
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m bench.child SPEC.json``."""
    args = sys.argv[1:] if argv is None else argv
    spec: Spec = json.loads(Path(args[0]).read_text())
    result = run_spec(spec)
    result["python"] = sys.executable
    Path(spec["result_file"]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
