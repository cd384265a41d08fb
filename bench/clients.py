"""What the benchmark's child modules share: spec types, the skip signal, HTTP and S3 clients.

Runs inside a child process (:mod:`bench.child`, :mod:`bench.rps`), with the interpreter of
the environment that has the contender installed.
"""

from __future__ import annotations

import os
from typing import Any

import requests

__all__ = [
    "S3_BUCKET",
    "Result",
    "Skip",
    "Spec",
    "boto_client",
    "ensure_bucket",
    "raw_session",
    "s3_env",
]

Spec = dict[str, Any]
Result = dict[str, Any]

S3_BUCKET = "bench-bucket"


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
