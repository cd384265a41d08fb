"""Helpers to drive the emulator from tests and scripts (usable outside pytest).

* :func:`start_process` runs ``python -m fake_artifactory serve --port 0 ...`` as a
  real subprocess and waits for its ``READY`` line (:class:`EmulatorProcess`).
* :class:`FakeArtifactoryHandle` talks to a running emulator's control plane (with its
  control token, when one is set; :func:`control_headers` for your own requests).
* :mod:`.pytest_plugin` provides the ``fake_artifactory`` fixtures.

Standard library only: importing this package imports none of the emulator's server
stack (Flask, werkzeug, gevent, the SQLite store).
"""

from fake_artifactory.testing.handle import FakeArtifactoryHandle, control_headers
from fake_artifactory.testing.process import EmulatorProcess, EmulatorStartError, start_process

__all__ = [
    "EmulatorProcess",
    "EmulatorStartError",
    "FakeArtifactoryHandle",
    "control_headers",
    "start_process",
]
