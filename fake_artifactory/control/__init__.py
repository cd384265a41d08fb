"""The control plane (``/_fake/...``), the fault and journal WSGI middlewares, and
:func:`.app.create_app`, which assembles them with the REST API."""
