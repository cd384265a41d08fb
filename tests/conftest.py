"""Root of the test tree.

Its only job: pytest puts this directory on ``sys.path`` when it loads this file, so
test modules anywhere below can import the shared helpers in ``tests/support/``.
"""
