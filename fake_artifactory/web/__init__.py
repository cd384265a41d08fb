"""The emulator's REST API on Flask: one route table (:mod:`.routes`), views grouped by
the Artifactory resource they serve, authentication and error rendering.

:func:`.app.build_app` makes the Flask app of an :class:`~.emulator.Emulator`; the control
plane and the WSGI middlewares are added by :func:`fake_artifactory.control.app.create_app`.
"""
