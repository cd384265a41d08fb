"""What the benchmark's child modules share: spec types, the skip signal, HTTP and S3 clients.

Runs inside a child process (:mod:`bench.child`, :mod:`bench.rps`, :mod:`bench.seed`), with
the interpreter of the environment that has the contender installed.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

__all__ = [
    "RAW_THREADS",
    "S3_BUCKET",
    "Result",
    "Skip",
    "Spec",
    "boto_client",
    "ensure_bucket",
    "raw_session",
    "s3_env",
    "timed",
]

Spec = dict[str, Any]
Result = dict[str, Any]

S3_BUCKET = "bench-bucket"
#: Threads of the raw baselines and of seeding.
RAW_THREADS = 8


class Skip(Exception):
    """The contender cannot run in this environment (its package is not installed)."""


def raw_session(token: str) -> requests.Session:
    """A plain ``requests`` session that sends ``token`` as a Bearer token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def s3_env(endpoint: str) -> None:
    """Point MLflow's S3 store and boto3 at moto (``endpoint``) with dummy credentials."""
    os.environ["MLFLOW_S3_ENDPOINT_URL"] = endpoint
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def boto_client(endpoint: str) -> Any:
    """A boto3 S3 client on moto; :class:`Skip` when boto3 is not installed here."""
    s3_env(endpoint)
    try:
        import boto3  # type: ignore[import-not-found]
    except ImportError as exc:
        raise Skip(f"boto3 not installed: {exc}") from exc
    return boto3.client("s3", endpoint_url=endpoint)


def ensure_bucket(endpoint: str) -> None:
    """Create the benchmark's bucket on moto unless it exists."""
    client = boto_client(endpoint)
    names = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if S3_BUCKET not in names:
        client.create_bucket(Bucket=S3_BUCKET)


def cpu_seconds() -> float:
    """User + system CPU time of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextmanager
def timed(result: Result, key: str) -> Iterator[None]:
    """Record the block's wall time as ``key`` and this process's CPU time as ``cpu_<key>``."""
    cpu = cpu_seconds()
    start = time.perf_counter()
    yield
    result[key] = time.perf_counter() - start
    result[f"cpu_{key}"] = cpu_seconds() - cpu
