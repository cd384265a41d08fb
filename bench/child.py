"""What one benchmark child process runs: one contender, one action, results as JSON.

Run as ``python -m bench.child SPEC.json`` by :mod:`bench.workloads`, with the interpreter
of the environment that has the contender installed. The result goes to the file named by
the spec's ``result_file`` (never stdout: JFrog's plugin prints on every construction).
Timings exclude interpreter start-up and imports; request counts come from the emulator's
journal, read and cleared around each timed phase.

Contenders: ``ours`` (``jfrog_mlflow``), ``jfrog`` (``mlflow-jfrog-plugin``), ``s3``
(MLflow's S3 store on moto), ``requests`` (a plain threaded ``requests`` loop, no listing)
and ``copy`` (local file copy). Each repository class is instantiated directly, never
through MLflow's scheme registry, because both plugins claim ``artifactory://``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["main", "run_spec"]

Spec = dict[str, Any]
Result = dict[str, Any]

RAW_THREADS = 8
S3_BUCKET = "bench-bucket"


class Skip(Exception):
    """The contender cannot run in this environment (its package is not installed)."""


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
    """Reads and clears the emulator's request journal (control plane, not journaled)."""

    def __init__(self, root_url: str | None) -> None:
        self.root_url = root_url
        self.session = requests.Session()

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


@contextmanager
def _timed(result: Result, key: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    result[key] = time.perf_counter() - start


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
    if contender in ("ours", "ours-perfile", "ours-skinny"):
        if contender == "ours-perfile":  # the same plugin with its archive transfers off
            os.environ["MLFLOW_ARTIFACTORY_BATCH_UPLOAD"] = "off"
            os.environ["MLFLOW_ARTIFACTORY_FOLDER_DOWNLOAD"] = "off"
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
        _s3_env(s3["endpoint"])
        try:
            from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository
        except ImportError as exc:
            raise Skip(f"mlflow S3 store not importable: {exc}") from exc
        _ensure_bucket(s3["endpoint"])
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


def _s3_env(endpoint: str) -> None:
    os.environ["MLFLOW_S3_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def _boto_client(endpoint: str) -> Any:
    _s3_env(endpoint)
    try:
        import boto3  # type: ignore[import-not-found]
    except ImportError as exc:
        raise Skip(f"boto3 not installed: {exc}") from exc
    return boto3.client("s3", endpoint_url=endpoint)


def _ensure_bucket(endpoint: str) -> None:
    client = _boto_client(endpoint)
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if S3_BUCKET not in names:
        client.create_bucket(Bucket=S3_BUCKET)


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


def _raw_session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _thread_map(fn: Callable[[requests.Session, str], None], items: list[str], token: str) -> None:
    local = threading.local()

    def call(item: str) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = _raw_session(token)
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
    journal = Journal((spec.get("art") or {}).get("root_url"))
    result: Result = {}
    expected_files, expected_bytes = _count_files(src)
    dst.mkdir(parents=True, exist_ok=True)
    if contender == "copy":
        with _timed(result, "up_s"):
            shutil.copytree(src, dst / "store" / prefix)
        with _timed(result, "down_s"):
            shutil.copytree(dst / "store" / prefix, dst / prefix)
        got = dst / prefix
    elif contender == "requests":
        journal.clear()
        with _timed(result, "up_s"):
            _raw_upload(spec["art"], src, prefix)
        result["up_requests"] = journal.take()
        rels = sorted(str(p.relative_to(src).as_posix()) for p in src.rglob("*") if p.is_file())
        with _timed(result, "down_s"):
            _raw_download(spec["art"], rels, prefix, dst)
        result["down_requests"] = journal.take()
        got = dst / prefix
    else:
        repo = make_repo(spec)
        journal.clear()
        with _timed(result, "up_s"), _stdout_to_stderr():
            repo.log_artifacts(str(src), prefix)
        result["up_requests"] = journal.take()
        if "down" not in phases:
            return result
        with _timed(result, "down_s"):
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
        with _timed(result, "seconds"):
            shutil.copyfile(src, Path(spec["dst"]) / "store.bin")
    else:
        repo = make_repo(spec)
        result["rss_before_kib"] = _proc_status_kib("VmRSS")
        journal = Journal((spec.get("art") or {}).get("root_url"))
        journal.clear()
        with _timed(result, "seconds"), _stdout_to_stderr():
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
        with _timed(result, "seconds"):
            shutil.copyfile(Path(spec["src"]), dst / "copy.bin")
        got = dst / "copy.bin"
    else:
        repo = make_repo(spec)
        result["rss_before_kib"] = _proc_status_kib("VmRSS")
        journal = Journal((spec.get("art") or {}).get("root_url"))
        journal.clear()
        remote = f"{spec['prefix']}/{spec['name']}"
        with _timed(result, "seconds"):
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
    journal = Journal((spec.get("art") or {}).get("root_url"))
    result: Result = {}
    journal.clear()
    with _timed(result, "list_s"), _stdout_to_stderr():
        top = repo.list_artifacts(prefix)
    result["list_entries"] = len(top)
    result["list_requests"] = journal.take()
    with _timed(result, "walk_s"), _stdout_to_stderr():
        walked = [fi for fi in repo._iter_artifacts_recursive(prefix) if not fi.is_dir]
    result["walk_files"] = len(walked)
    result["walk_requests"] = journal.take()
    if spec.get("download"):
        dst = Path(spec["dst"])
        dst.mkdir(parents=True, exist_ok=True)
        with _timed(result, "down_s"):
            got = Path(_download(repo, contender, prefix, str(dst)))
        result["down_requests"] = journal.take()
        result["down_files"] = _count_files(got)[0]
    return result


def action_seed(spec: Spec) -> Result:
    """Store a tree quickly with threaded raw clients (setup for W4; not measured)."""
    src, prefix = Path(spec["src"]), spec["prefix"]
    result: Result = {}
    with _timed(result, "seconds"):
        if spec["contender"] == "s3":
            client = _boto_client(spec["s3"]["endpoint"])
            _ensure_bucket(spec["s3"]["endpoint"])
            rels = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())

            def put(rel: str) -> None:
                client.put_object(
                    Bucket=S3_BUCKET, Key=f"bench/{prefix}/{rel}", Body=(src / rel).read_bytes()
                )

            with ThreadPoolExecutor(RAW_THREADS) as pool:
                list(pool.map(put, rels))
        else:
            _raw_upload(spec["art"], src, prefix)
    return result


# --------------------------------------------------------------------------- W6

#: W6 load generators: ``lean`` (default) is one ``http.client`` connection per client
#: process and a few microseconds of client CPU per request for both servers, so the
#: figure is the server's; ``sdk`` is the historical one (boto3 for moto, ``requests``
#: for the emulator), whose client CPU (SigV4 through botocore, response parsing) is
#: taken from the same cores.  ``BENCH_W6_CLIENT=sdk`` selects it without a spec change.
W6_CLIENTS = ("lean", "sdk")
_S3_REGION = "us-east-1"


def _sigv4_signing_key(secret: str, datestamp: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (datestamp, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sigv4_headers(
    method: str,
    host: str,
    path: str,
    *,
    key_id: str,
    secret: str,
    when: datetime.datetime,
    region: str = _S3_REGION,
) -> dict[str, str]:
    """Headers of an AWS Signature V4 request to S3 (no query, unsigned payload).

    ``path`` must already be in canonical (percent-encoded) form.  Moto's server does
    not check signatures by default, but it treats requests without one as anonymous
    (a GET of a private object then answers 403), so the lean client signs for real.
    """
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    datestamp = amz_date[:8]
    payload = "UNSIGNED-PAYLOAD"
    signed = "host;x-amz-content-sha256;x-amz-date"
    canonical = (
        f"{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload}\n"
        f"x-amz-date:{amz_date}\n\n{signed}\n{payload}"
    )
    scope = f"{datestamp}/{region}/s3/aws4_request"
    to_sign = (
        f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n" + hashlib.sha256(canonical.encode()).hexdigest()
    )
    key = _sigv4_signing_key(secret, datestamp, region)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        ),
        "x-amz-content-sha256": payload,
        "x-amz-date": amz_date,
    }


class _LeanClient:
    """One ``http.client`` connection; reopened transparently when the server closes it
    (moto's werkzeug server closes every connection after one response)."""

    def __init__(self, url: str, auth: Callable[[str, str], dict[str, str]]) -> None:
        parts = urlsplit(url)
        self.host = parts.netloc
        self.prefix = parts.path.rstrip("/")
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        self._auth = auth

    def request(self, method: str, key: str, body: bytes | None = None) -> bytes:
        path = f"{self.prefix}/{key}"
        headers = self._auth(method, path)
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}")
        return data


def _rps_clients(
    spec: Spec, size: int
) -> tuple[Callable[[str, bytes], None], Callable[[str], None]]:
    """The (put, get) callables of one W6 client process (bodies of ``size`` bytes)."""
    kind = spec.get("client") or os.environ.get("BENCH_W6_CLIENT") or "lean"
    if kind not in W6_CLIENTS:
        raise ValueError(f"unknown W6 client {kind!r}; choose from {W6_CLIENTS}")
    if kind == "lean":
        lean: _LeanClient
        if spec["target"] == "moto":
            endpoint = spec["s3"]["endpoint"]
            _s3_env(endpoint)
            key_id = os.environ["AWS_ACCESS_KEY_ID"]
            secret = os.environ["AWS_SECRET_ACCESS_KEY"]
            host = urlsplit(endpoint).netloc

            def sign(method: str, path: str) -> dict[str, str]:
                now = datetime.datetime.now(datetime.timezone.utc)
                return sigv4_headers(method, host, path, key_id=key_id, secret=secret, when=now)

            lean = _LeanClient(f"{endpoint}/{S3_BUCKET}", sign)
        else:
            art = spec["art"]
            bearer = {"Authorization": f"Bearer {art['token']}"}
            lean = _LeanClient(f"{art['url']}/{art['repo']}", lambda _m, _p: dict(bearer))

        def lean_put(key: str, body: bytes) -> None:
            lean.request("PUT", key, body)

        def lean_get(key: str) -> None:
            if len(lean.request("GET", key)) != size:
                raise RuntimeError(f"GET {key}: short body")

        return lean_put, lean_get
    if spec["target"] == "moto":
        client = _boto_client(spec["s3"]["endpoint"])

        def s3_put(key: str, body: bytes) -> None:
            client.put_object(Bucket=S3_BUCKET, Key=key, Body=body)

        def s3_get(key: str) -> None:
            client.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()

        return s3_put, s3_get
    art = spec["art"]
    session = _raw_session(art["token"])
    base = f"{art['url']}/{art['repo']}"

    def art_put(key: str, body: bytes) -> None:
        session.put(f"{base}/{key}", data=body, timeout=60).raise_for_status()

    def art_get(key: str) -> None:
        resp = session.get(f"{base}/{key}", timeout=60)
        resp.raise_for_status()
        _ = resp.content

    return art_put, art_get


def _rps_worker(spec: Spec, index: int, barrier: Any, out: Any) -> None:
    try:
        out.put(_rps_timed(spec, index, barrier))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never hangs it
        barrier.abort()
        out.put(f"client {index}: {type(exc).__name__}: {str(exc)[:200]}")


def _rps_timed(spec: Spec, index: int, barrier: Any) -> tuple[float, float, float, float]:
    count, size = int(spec["count"]), int(spec["size"])
    put, get = _rps_clients(spec, size)
    prefix = spec.get("prefix", "w6")
    keys = [f"{prefix}/c{index}/k{i:05d}" for i in range(count)]
    # A distinct body per request: the emulator stores content once per checksum, so
    # repeating one body would measure its deduplication, not its write path.
    bodies = [os.urandom(size) for _ in keys]
    put(f"{prefix}/c{index}/warmup", os.urandom(size))  # opens the connection outside the window
    barrier.wait(timeout=600)
    t0 = time.perf_counter()
    for key, body in zip(keys, bodies, strict=True):
        put(key, body)
    t1 = time.perf_counter()
    barrier.wait(timeout=600)
    t2 = time.perf_counter()
    for key in keys:
        get(key)
    t3 = time.perf_counter()
    return t0, t1, t2, t3


def action_rps(spec: Spec) -> Result:
    """W6: ``clients`` processes, each on one connection, PUT then GET small bodies.

    The result names the load generator (``client``: ``lean`` or ``sdk``).
    """
    clients = int(spec["clients"])
    if spec["target"] == "moto":
        _ensure_bucket(spec["s3"]["endpoint"])
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(clients)
    out = ctx.Queue()
    procs = [ctx.Process(target=_rps_worker, args=(spec, i, barrier, out)) for i in range(clients)]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    errors = [r for r in reports if isinstance(r, str)]
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    stamps: list[tuple[float, float, float, float]] = reports
    total = clients * int(spec["count"])
    put_window = max(s[1] for s in stamps) - min(s[0] for s in stamps)
    get_window = max(s[3] for s in stamps) - min(s[2] for s in stamps)
    kind = spec.get("client") or os.environ.get("BENCH_W6_CLIENT") or "lean"
    return {
        "put_rps": total / put_window,
        "get_rps": total / get_window,
        "requests": total,
        "client": kind,
    }


ACTIONS: dict[str, Callable[[Spec], Result]] = {
    "tree": action_tree,
    "big_up": action_big_up,
    "big_down": action_big_down,
    "listing": action_listing,
    "seed": action_seed,
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
