"""The emulator's storage: SQLite metadata and content-addressed blobs (no HTTP).

:class:`Store` (in :mod:`.facade`) is the one entry point; it is composed of the
:class:`~.database.Database` (connections, transactions, cache generations), the
:class:`~.blobs.BlobStore` and inline blobs (:class:`~.content.Content`), the
repositories (:class:`~.repositories.Repositories`), the access tokens
(:class:`~.tokens.Tokens`), the item tree's reads (:class:`~.items.ItemTree`) and
writes (:class:`~.writes.ItemWriter`).  Snapshots are :mod:`.snapshot`.
"""

from fake_artifactory.store.facade import Store

__all__ = ["Store"]
