"""Helpers shared by more than one test directory (imported as ``support``).

``tests/conftest.py`` puts ``tests/`` on ``sys.path``, so any test module can write
``from support.wsgi_server import serve_wsgi``.
"""
