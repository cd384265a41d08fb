"""Loads the suite's pytest plugin when pytest collects this package directly.

``python -m conformance`` registers ``conformance.plugin`` with ``-p``; ``pytest --pyargs
conformance`` (run from the project root) reaches it through this file. Either way it is
registered once. ``conformance.probes`` holds the fixtures of the fidelity probes.
"""

pytest_plugins = ["conformance.plugin", "conformance.probes"]
