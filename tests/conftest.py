"""Root of the test tree.

Its only job: pytest puts this directory on ``sys.path`` when it loads this file, so
test modules anywhere below can import the shared helpers in ``tests/support/``.

Where helpers live (one convention for the whole tree): helpers used by one folder are in
``<folder>/<folder>_support.py`` next to its tests (``emulator_support``,
``plugin_support``, ``reliability_support``, ``e2e_support``) and fixtures in that
folder's ``conftest.py``; helpers used by several folders are in ``tests/support/``.
"""
