"""The :class:`Store`: one object composed of the storage collaborators, whose public
methods delegate to them.

Blobs live under ``<data_dir>/blobs/<sha256[:2]>/<sha256>`` (written once however many
paths use them; user paths never become host file names), small ones inline in SQLite.
Metadata (items with explicit folders, checksums, timestamps, properties) lives in
``<data_dir>/meta.sqlite3`` (WAL).

Durability/atomicity: an upload is streamed to ``<data_dir>/tmp`` while hashing (no
lock held), renamed into the blob store and then committed in one SQLite transaction
(the only serialised step), so a crash mid-upload leaves no visible item and an
acknowledged write survives ``kill -9``: the bytes are in the kernel's page cache
before the 201 is sent, and a process crash does not lose those.  What is fsynced
(for power-loss durability) is the :class:`Durability` policy (``--fsync``).  Blobs
are immutable, so readers holding an open blob always see one complete version.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, BinaryIO

from fake_artifactory.config import UserSpec
from fake_artifactory.core.copymove import CopyOutcome
from fake_artifactory.core.errors import NoSuchRepo
from fake_artifactory.core.records import ItemRecord, RepoRecord, TokenRecord
from fake_artifactory.core.repoconfig import without_member
from fake_artifactory.core.security import Change, SecurityState, without_repository
from fake_artifactory.store.blobs import CHUNK_SIZE, BlobStore, Durability, StagedBlob
from fake_artifactory.store.content import Content
from fake_artifactory.store.database import Database
from fake_artifactory.store.items import ItemTree
from fake_artifactory.store.repositories import Repositories
from fake_artifactory.store.schema import REPLACE_ITEM, item_row
from fake_artifactory.store.security import Entry, SecurityDocs
from fake_artifactory.store.tokens import Tokens
from fake_artifactory.store.writes import ItemWriter


class Store:
    """Thread-safe blob + metadata store rooted at ``data_dir`` (None: ephemeral)."""

    def __init__(
        self,
        data_dir: Path | None = None,
        repos: Iterable[str] = (),
        fsync: str = "auto",
        *,
        shared: bool = False,
        users: Sequence[UserSpec] | None = None,
        anonymous: str = "off",
    ) -> None:
        self.ephemeral = data_dir is None
        #: Other processes use the same data dir (``--workers``): see :meth:`sync_shared`.
        self.shared = shared and data_dir is not None
        self.durability = Durability.resolve(fsync, ephemeral=self.ephemeral)
        root = Path(tempfile.mkdtemp(prefix="fake-artifactory-")) if data_dir is None else data_dir
        self.root = root
        # Every stored file lives here: a new data dir is for its owner only.
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.blobs = BlobStore(root, self.durability, shared=self.shared)
        self.db = Database(root / "meta.sqlite3", self.durability, shared=self.shared)
        self.content = Content(self.db, self.blobs)
        self.repos = Repositories(self.db, repos)
        self.tokens = Tokens(self.db)
        self.security = SecurityDocs(self.db, users, anonymous)
        self.tree = ItemTree(self.db, self.repos)
        self.writer = ItemWriter(self.db, self.repos, self.tree, self.content)
        self.repos.ensure_configured()
        self.security.ensure_configured()
        self._finalizer = (
            weakref.finalize(self, shutil.rmtree, str(root), True) if self.ephemeral else None
        )

    @property
    def db_path(self) -> Path:
        return self.db.path

    @property
    def blob_dir(self) -> Path:
        return self.blobs.blob_dir

    @property
    def tmp_dir(self) -> Path:
        return self.blobs.tmp_dir

    def close(self) -> None:
        """Close all connections; an ephemeral store removes its directory."""
        self.db.close()
        self.blobs.wait_for_cleaners()
        if self._finalizer is not None:
            self._finalizer()

    def sync_shared(self) -> None:
        """Pick up repository and token changes of other processes (``--workers``)."""
        self.db.sync_shared()

    # -- repositories --------------------------------------------------------------------------

    def list_repos(self) -> list[RepoRecord]:
        return list(self.repos.all().values())

    def get_repo(self, key: str) -> RepoRecord | None:
        return self.repos.get(key)

    def has_repo(self, key: str) -> bool:
        return self.repos.has(key)

    def create_repo(self, repo: RepoRecord) -> None:
        """Create a repository; RepoExists if the key is taken."""
        self.repos.create(repo)

    def update_repo(self, repo: RepoRecord) -> None:
        """Replace a repository's description and configuration (NoSuchRepo if unknown)."""
        self.repos.update(repo)

    def delete_repo(self, key: str) -> None:
        """Remove a repository and all its content (NoSuchRepo if unknown); virtual
        repositories and permission targets that name it forget it, in one transaction."""
        with self.db.write_lock:
            self.repos.require(key)
            virtuals = [
                without_member(r, key)
                for r in self.repos.all().values()
                if r.rclass == "virtual" and key in r.members
            ]
            changes = without_repository(self.security.state(), key)
            try:
                with self.db.tx() as db:
                    self.repos.delete_rows(db, key)
                    for virtual in virtuals:
                        self.repos.update_row(db, virtual)
                    self.security.apply_rows(db, changes)
            finally:
                self.db.changed()
            self.content.collect_garbage()

    # -- users, groups, permission targets, projects ------------------------------------------

    def security_state(self) -> SecurityState:
        """Users, groups, permission targets and projects as they are now (cached)."""
        return self.security.state()

    def modify_security(self, plan: Callable[[SecurityState], Iterable[Change]]) -> None:
        """Apply the changes ``plan`` computes from the current state (one transaction)."""
        self.security.modify(plan)

    def security_entries(self) -> list[Entry]:
        """Every security document (for snapshots)."""
        return self.security.entries()

    # -- reads ---------------------------------------------------------------------------------

    def get_item(self, repo: str, path: str) -> ItemRecord | None:
        """The item at ``path`` or None (NoSuchRepo if the repository is unknown)."""
        return self.tree.get(repo, path)

    def require_item(self, repo: str, path: str) -> ItemRecord:
        return self.tree.require(repo, path)

    def get_download(self, repo: str, path: str) -> tuple[ItemRecord, bytes | None] | None:
        """A file's record (properties not loaded) and its bytes when inline: one query."""
        return self.tree.get_download(repo, path)

    def list_children(self, repo: str, path: str) -> list[ItemRecord]:
        """Direct children of a folder, sorted by name."""
        return self.tree.children(repo, path)

    def iter_descendants(
        self, repo: str, path: str, depth: int | None = None
    ) -> Iterator[ItemRecord]:
        """Descendants of folder ``path`` sorted by path; ``depth`` 1 = direct children."""
        return self.tree.descendants(repo, path, depth)

    def iter_items(self, repo: str | None = None) -> Iterator[ItemRecord]:
        """Every item (including repository roots, path ``""``)."""
        return self.tree.all(repo)

    # -- content -------------------------------------------------------------------------------

    def open_blob(self, sha256: str, size: int | None = None) -> BinaryIO:
        """Open a blob for reading (inline or file)."""
        return self.content.open(sha256, size)

    def has_blob(self, sha256: str, size: int) -> bool:
        return self.content.has(sha256, size)

    def stored_blobs(self) -> set[str]:
        """The sha256 of every stored blob, inline or file (for tests and checks)."""
        return self.content.stored()

    def stage_upload(self, chunks: Iterable[bytes]) -> StagedBlob:
        """Stream ``chunks`` to a temp file while hashing (see :meth:`BlobStore.stage`)."""
        return self.blobs.stage(chunks)

    def stage_bytes(self, data: bytes) -> StagedBlob:
        """Stage a small upload held in memory (see :meth:`BlobStore.stage_bytes`)."""
        return self.blobs.stage_bytes(data)

    def stage_small(self, chunks: Iterable[bytes], *, in_memory: bool = True) -> StagedBlob:
        """Stage in memory if small, else to a file (see :meth:`BlobStore.stage_small`)."""
        return self.blobs.stage_small(chunks, in_memory=in_memory)

    def stage_stream(self, stream: IO[bytes], chunk_size: int = CHUNK_SIZE) -> StagedBlob:
        """:meth:`stage_upload` over a file-like object."""
        return self.blobs.stage_stream(stream, chunk_size)

    def collect_garbage(self) -> int:
        """Remove blobs no item references (see :meth:`Content.collect_garbage`)."""
        return self.content.collect_garbage()

    # -- writes --------------------------------------------------------------------------------

    def commit_file(
        self,
        repo: str,
        path: str,
        staged: StagedBlob,
        *,
        user: str,
        original: Mapping[str, str] | None = None,
        properties: Mapping[str, list[str]] | None = None,
        mime_type: str | None = None,
    ) -> ItemRecord:
        """Publish a staged blob at ``repo/path`` atomically (last complete write wins)."""
        return self.writer.commit_file(
            repo,
            path,
            staged,
            user=user,
            original=original,
            properties=properties,
            mime_type=mime_type,
        )

    def commit_files(
        self,
        repo: str,
        files: Sequence[tuple[str, StagedBlob]],
        *,
        folders: Sequence[str] = (),
        user: str,
    ) -> int:
        """Create ``folders`` and publish every staged file in one transaction."""
        return self.writer.commit_files(repo, files, folders=folders, user=user)

    def deploy_by_checksum(
        self,
        repo: str,
        path: str,
        *,
        sha256: str | None,
        sha1: str | None,
        user: str,
        properties: Mapping[str, list[str]] | None = None,
    ) -> ItemRecord:
        """Create ``repo/path`` from an already stored blob (ChecksumNotFound if unknown)."""
        return self.writer.deploy_by_checksum(
            repo, path, sha256=sha256, sha1=sha1, user=user, properties=properties
        )

    def set_original_checksum(self, repo: str, path: str, alg: str, value: str) -> None:
        self.writer.set_original_checksum(repo, path, alg, value)

    def create_folder(
        self,
        repo: str,
        path: str,
        *,
        user: str,
        properties: Mapping[str, list[str]] | None = None,
    ) -> ItemRecord:
        """Create a folder and its missing ancestors (idempotent)."""
        return self.writer.create_folder(repo, path, user=user, properties=properties)

    def delete(self, repo: str, path: str) -> int:
        """Delete a file or a folder recursively; NoSuchItem when nothing is there."""
        return self.writer.delete(repo, path)

    def set_properties(
        self, repo: str, path: str, props: Mapping[str, list[str]], *, recursive: bool = False
    ) -> None:
        self.writer.set_properties(repo, path, props, recursive=recursive)

    def delete_properties(
        self, repo: str, path: str, keys: Iterable[str], *, recursive: bool = False
    ) -> None:
        self.writer.delete_properties(repo, path, keys, recursive=recursive)

    def copy_tree(
        self,
        src_repo: str,
        src_path: str,
        dst_repo: str,
        dst_path: str,
        *,
        move: bool,
        user: str,
        into: bool = False,
        dry: bool = False,
    ) -> CopyOutcome:
        """Copy (or move) a file or folder subtree in one transaction."""
        return self.writer.copy_tree(
            src_repo, src_path, dst_repo, dst_path, move=move, user=user, into=into, dry=dry
        )

    # -- tokens --------------------------------------------------------------------------------

    def add_token(self, token: TokenRecord) -> None:
        self.tokens.add(token)

    def find_token(
        self, *, token_id: str | None = None, digest: str | None = None
    ) -> TokenRecord | None:
        """A token by id or by digest."""
        return self.tokens.find(token_id=token_id, digest=digest)

    def list_tokens(self) -> list[TokenRecord]:
        return self.tokens.all()

    def revoke_token(self, token_id: str) -> bool:
        """Forget a token; False when no such token exists."""
        return self.tokens.revoke(token_id)

    # -- whole state ---------------------------------------------------------------------------

    def replace_state(
        self,
        repos: Iterable[RepoRecord],
        items: Iterable[ItemRecord],
        tokens: Iterable[TokenRecord],
        blobs: Iterable[StagedBlob],
        security: Iterable[Entry] = (),
    ) -> None:
        """Replace everything (repositories, items, properties, tokens, security documents)
        in one transaction.

        ``blobs`` are published first (content addressed, so harmless if the
        transaction then fails); unreferenced blobs are collected afterwards.
        """
        with self.db.write_lock:
            for blob in blobs:
                self.blobs.publish(blob)
            with self.db.tx() as db:
                for table in ("items", "props", "repos", "tokens", "security"):
                    db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                for repo in repos:
                    configured = repo.key in self.repos.configured
                    self.repos.insert_row(db, repo, configured=configured)
                for item in items:
                    db.execute(REPLACE_ITEM, item_row(item))
                    self.tree.replace_props(db, item.repo, item.path, item.properties)
                for token in tokens:
                    self.tokens.insert_row(db, token)
                self.security.apply_rows(db, security)
            self.db.changed()
            self.repos.ensure_configured()
            self.security.ensure_configured()
            self.content.collect_garbage()

    def reset(self, repo: str | None = None) -> None:
        """Drop all content (and API-created repos, users, groups, permission targets and
        projects), or the content of one repository."""
        with self.db.write_lock:
            with self.db.tx() as db:
                if repo is None:
                    for table in ("tokens", "items", "props", "repos", "security"):
                        db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                else:
                    if not self.has_repo(repo):
                        raise NoSuchRepo(repo)
                    db.execute("DELETE FROM items WHERE repo = ? AND path != ''", (repo,))
                    db.execute("DELETE FROM props WHERE repo = ?", (repo,))
            self.db.changed()
            if repo is None:
                self.repos.ensure_configured()
                self.security.ensure_configured()
                self.content.drop_all()
            else:
                self.content.collect_garbage()
