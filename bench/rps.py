"""W6: the emulator's and moto's request rate under concurrent small PUTs and GETs.

``action_rps`` forks ``clients`` load-generator processes; each PUTs then GETs ``count``
distinct bodies of ``size`` bytes on its own connection, and the rates come from the
processes' shared time windows.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.clients import S3_BUCKET, Result, Spec, boto_client, ensure_bucket, raw_session, s3_env

__all__ = ["W6_CLIENTS", "action_rps", "sigv4_headers"]

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
            s3_env(endpoint)
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
        client = boto_client(spec["s3"]["endpoint"])

        def s3_put(key: str, body: bytes) -> None:
            client.put_object(Bucket=S3_BUCKET, Key=key, Body=body)

        def s3_get(key: str) -> None:
            client.get_object(Bucket=S3_BUCKET, Key=key)["Body"].read()

        return s3_put, s3_get
    art = spec["art"]
    session = raw_session(art["token"])
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
        ensure_bucket(spec["s3"]["endpoint"])
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
