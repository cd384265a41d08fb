"""The plugin's version, in a module of its own so the transport layer can name it in its
User-Agent without importing the package (whose ``__init__`` leads to the MLflow adapter)."""

__version__ = "0.1.0"
