"""What the fidelity probes share: the :class:`Recorder` behind the ``probe`` fixture and
small request helpers (a pytest plugin module, registered by ``conformance/conftest.py``).

A probe records the target's answer next to the emulator's claim as a test property
(``fidelity:<key>``), which the result book collects for ``--fidelity-report``. Against
the bundled emulator a difference fails the check: the emulator must agree with its own
claims. Observations are normalised (``<repo>``, ``<area>`` and generated names) so that
they compare across runs and say nothing about the server but its behaviour.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
import requests

from conformance.client import RestClient
from conformance.fidelity import ABSENT, PRESENT, PROPERTY_PREFIX, Answer, differences
from conformance.fidelity import encode_record as _encode
from conformance.targets import Capabilities, Target

__all__ = [
    "AUTO",
    "CHALLENGE",
    "Recorder",
    "anonymous_allowed",
    "deployed",
    "message_of",
    "missing_repo",
    "probe",
    "tar_of",
]

CHALLENGE = 'Basic realm="Artifactory Realm"'
#: Answer body characters kept as a probe's message.
MESSAGE_CHARS = 300
AUTO = object()


class Recorder:
    """Records probes of one check (see the module docstring)."""

    def __init__(self, node: pytest.Item, target: Target, repo: str, area: str) -> None:
        self.node = node
        self.is_emulator = target.kind == "emulator"
        self.names = {area: "<area>", repo: "<repo>"}

    def name(self, placeholder: str, value: str) -> str:
        """Have ``value`` (a generated name) written as ``placeholder`` in observations."""
        self.names[value] = placeholder
        return value

    def normalise(self, text: str) -> str:
        for value, placeholder in self.names.items():
            text = text.replace(value, placeholder)
        return text

    def answer(self, resp: requests.Response, claim: Answer, message: Any = AUTO) -> Answer:
        """The observed :class:`Answer`: the claim's headers (present/absent where the claim
        asks only that) and the message (the error envelope's, else the text body)."""
        headers = {}
        for name, claimed in claim.headers.items():
            value = resp.headers.get(name)
            if value is None:
                headers[name] = ABSENT
            else:
                headers[name] = PRESENT if claimed == PRESENT else self.normalise(value)
        if message is AUTO:
            message = message_of(resp)
        text = None if message is None else self.normalise(str(message))
        return Answer(resp.status_code, headers, text)

    def record(self, key: str, claim: Answer, resp: requests.Response, message: Any = AUTO) -> None:
        observed = self.answer(resp, claim, message)
        self.node.user_properties.append((PROPERTY_PREFIX + key, _encode(claim, observed)))
        found = differences(claim, observed)
        if found and self.is_emulator:
            pytest.fail(f"the emulator departs from its own claim ({key}): {'; '.join(found)}")

    def not_applicable(self, key: str, why: str) -> None:
        self.node.user_properties.append((PROPERTY_PREFIX + key, _encode(None, None, why)))

    def applies(self, key: str, condition: bool, why_not: str) -> bool:
        """``condition``; when false, the probe is recorded as not applicable."""
        if not condition:
            self.not_applicable(key, why_not)
        return condition

    def on_edition(self, key: str, capabilities: Capabilities, edition: str) -> bool:
        """True on a server of ``edition``; else recorded as not applicable."""
        found = capabilities.edition
        return self.applies(key, found == edition, f"{edition} only (edition {found})")


def message_of(resp: requests.Response) -> str | None:
    text = resp.content[:65536].decode("utf-8", "replace")
    try:
        body = json.loads(text)
    except ValueError:
        return text[:MESSAGE_CHARS]
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict) and "message" in first:
            return str(first["message"])
    return text[:MESSAGE_CHARS]


@pytest.fixture
def probe(request: pytest.FixtureRequest, target: Target, rest: RestClient, area: str) -> Recorder:
    """Records this check's probes."""
    return Recorder(request.node, target, rest.repo, area)


@pytest.fixture(scope="session")
def anonymous_allowed(rest: RestClient) -> bool:
    """Whether the target lets anonymous callers in (its version answers without
    credentials)."""
    anonymous = rest.anonymous()
    return anonymous.request("GET", f"{rest.base_url}/api/system/version").status_code == 200


def missing_repo(probe: Recorder) -> str:
    return probe.name("<missing-repo>", f"conformance-missing-{uuid.uuid4().hex[:10]}")


def tar_of(files: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def deployed(rest: RestClient, path: str, data: bytes = b"probe") -> None:
    resp = rest.deploy(path, data)
    assert resp.status_code == 201, (path, resp.status_code, resp.text[:300])
