"""The ledger's keys: the master key from outside the database, and one data key per case.

Envelope encryption. The **master key** (32 random bytes) never enters the database: it is
read from `$BTI_MASTER_KEY` (base64) or from a file (`$BTI_MASTER_KEY_FILE`, by default
`bti-master.key` in the working directory), which must be readable by its owner only. Two
keys are derived from it with HKDF-SHA256: the key-encryption key that wraps the case keys,
and the secret of the identity-number lookup hash (HMAC).

Each case gets its own random AES-256-GCM **data key**, stored wrapped (encrypted with the
key-encryption key) in `bti_case_keys`. The key is created the first time something of the
case is sealed. A command stores it in the same transaction as the events it seals
(`CaseKeys.staging`), so a new case costs one commit and a key is never stored without
them; should another writer have stored the case's key first, the save clashes and the
command is tried again with that key. Keys made outside a command (a projection's, an
import's) are stored with `INSERT … ON CONFLICT DO NOTHING` and read back. Erasing a case
destroys its wrapped key (`wrapped_key` set to NULL) and keeps when, by whom and why; the
case's encrypted fields can then never be read again, by anyone.

The master key is only read when something is sealed or opened: `bti verify` and a checkpoint
work from the stored bytes and need no key.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.errors import LedgerError

MASTER_KEY_ENV = "BTI_MASTER_KEY"
MASTER_KEY_FILE_ENV = "BTI_MASTER_KEY_FILE"
DEFAULT_MASTER_KEY_FILE = "bti-master.key"
KEY_BYTES = 32
NONCE_BYTES = 12
KEYS_TABLE = "bti_case_keys"
IDENTITY_TABLE = "bti_identity_index"
CACHE_SIZE = 10_000
"""Case keys a process keeps unwrapped (about 3 KB each in memory): a replay reads a batch's
keys in one query, so an evicted key costs little to read again, and memory stays flat."""
_ENSURE_CHUNK = 5_000
CACHE_SECONDS = 300.0
"""How long a process keeps a case key it has read: after an erasure, another running process
can read the case for at most this long (the erasing process forgets at once)."""

Dialect = Literal["sqlite", "postgres"]


class KeyProblem(LedgerError):
    """The master key is missing, unreadable, malformed, or readable by others."""


# ---- the master key ----------------------------------------------------------------------


def master_key_path() -> Path:
    """Where the master key file is looked for: $BTI_MASTER_KEY_FILE or ./bti-master.key."""
    return Path(os.environ.get(MASTER_KEY_FILE_ENV) or DEFAULT_MASTER_KEY_FILE)


def load_master_key() -> bytes:
    """The master key from $BTI_MASTER_KEY, else from the key file; a clear error if neither."""
    value = os.environ.get(MASTER_KEY_ENV)
    if value:
        return _decoded(value, MASTER_KEY_ENV)
    path = master_key_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyProblem("master_key_missing", path=path) from None
    if mode & 0o077:
        raise KeyProblem("master_key_readable", path=path, mode=oct(stat.S_IMODE(mode)))
    try:
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise KeyProblem("master_key_unreadable", path=path, reason=str(error)) from None
    return _decoded(text, str(path))


def _decoded(text: str, origin: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise KeyProblem("master_key_malformed", origin=origin, size=KEY_BYTES)
    return key


def write_master_key(path: Path) -> None:
    """Write a new random master key to `path`, readable by its owner only; never overwrite."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        raise KeyProblem("master_key_exists", path=path) from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii") + "\n")


def ensure_demo_master_key(database: Path | None) -> Path | None:
    """A master key for `bti demo`: the configured one, or a new one beside the demo database.

    Returns the file written (None if a key was already configured). Set for this process, so
    the demo can be built; other commands find it as ./bti-master.key or by the variable.
    """
    if os.environ.get(MASTER_KEY_ENV) or os.environ.get(MASTER_KEY_FILE_ENV):
        return None
    folder = database.parent if database is not None else Path.cwd()
    path = folder / DEFAULT_MASTER_KEY_FILE
    if path.exists():
        if Path(DEFAULT_MASTER_KEY_FILE).resolve() != path.resolve():
            os.environ[MASTER_KEY_FILE_ENV] = str(path)
        return None
    write_master_key(path)
    if Path(DEFAULT_MASTER_KEY_FILE).resolve() != path.resolve():
        os.environ[MASTER_KEY_FILE_ENV] = str(path)
    return path


def derive(master: bytes, purpose: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from the master key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"bti-ledger " + purpose).derive(master)


# ---- the case keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class Erasure:
    """When, by whom and why a case's key was destroyed."""

    case_id: UUID
    erased_at: datetime
    erased_by: str
    reason: str


class CaseErased(LedgerError):
    """The case was erased: its key is gone and nothing personal can be written to it."""


class CaseKeys:
    """The case keys of one ledger database: created, unwrapped, cached, destroyed."""

    def __init__(
        self, datastore: Any, dialect: Dialect, schema: str = "",
        master: Callable[[], bytes] = load_master_key,
    ) -> None:
        self.datastore = datastore
        self.dialect = dialect
        self.keys_table = f'"{schema}"."{KEYS_TABLE}"' if schema else KEYS_TABLE
        self.identity_table = f'"{schema}"."{IDENTITY_TABLE}"' if schema else IDENTITY_TABLE
        self._master_source = master
        self._kek: AESGCM | None = None
        self._lookup_secret: bytes | None = None
        self._nonce_secret: bytes | None = None
        self._cache: OrderedDict[UUID, tuple[AESGCM | None, float]] = OrderedDict()
        self._deferred_index: list[tuple[str, str]] | None = None
        self._staging = threading.local()

    # -- SQL -------------------------------------------------------------------------------

    def _execute(self, cursor: Any, statement: str, params: tuple[Any, ...] = ()) -> None:
        cursor.execute(statement.replace("%s", "?") if self.dialect == "sqlite" else statement,
                       params)

    @staticmethod
    def _rows(cursor: Any) -> list[tuple[Any, ...]]:
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cursor.fetchall()]

    def create_tables(self) -> None:
        blob = "BLOB" if self.dialect == "sqlite" else "bytea"
        with self.datastore.transaction(commit=True) as cursor:
            if self.dialect == "postgres":
                # Processes creating a ledger at once take turns: CREATE TABLE IF NOT
                # EXISTS is not safe against a concurrent one on PostgreSQL.
                self._execute(cursor, "SELECT pg_advisory_xact_lock(hashtext(%s))",
                              (self.keys_table,))
            self._execute(cursor, (
                f"CREATE TABLE IF NOT EXISTS {self.keys_table} (case_id TEXT PRIMARY KEY, "
                f"wrapped_key {blob}, created_at TEXT NOT NULL, erased_at TEXT, "
                "erased_by TEXT, reason TEXT)"
            ))
            self._execute(cursor, (
                f"CREATE TABLE IF NOT EXISTS {self.identity_table} (lookup_key TEXT NOT NULL, "
                "case_id TEXT NOT NULL, PRIMARY KEY (lookup_key, case_id))"
            ))

    # -- master-derived keys ---------------------------------------------------------------

    def _key_encryption_key(self) -> AESGCM:
        if self._kek is None:
            self._kek = AESGCM(derive(self._master_source(), b"case key wrapping v1"))
        return self._kek

    def lookup_secret(self) -> bytes:
        """The secret of the identity-number lookup hash (derived from the master key)."""
        if self._lookup_secret is None:
            self._lookup_secret = derive(self._master_source(), b"identity lookup v1")
        return self._lookup_secret

    def projection_nonce_secret(self) -> bytes:
        """The secret that makes a projection row's sealed value the same on every rebuild."""
        if self._nonce_secret is None:
            self._nonce_secret = derive(self._master_source(), b"projection nonce v1")
        return self._nonce_secret

    @staticmethod
    def _wrap_aad(case_id: UUID) -> bytes:
        return b"bti case key v1\x00" + case_id.bytes

    # -- case keys -------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, cursor: Any | None, commit: bool) -> Iterator[Any]:
        # Inside a caller's transaction (a projection's), use its cursor: on SQLite a second
        # connection could not write while that transaction holds the write lock.
        if cursor is not None:
            yield cursor
            return
        with self.datastore.transaction(commit=commit) as own:
            yield own

    def for_sealing(self, case_id: UUID, now: datetime, cursor: Any | None = None) -> AESGCM:
        """The case's key, created (and stored wrapped) if it has none; refused if erased."""
        staged = self._staged() if cursor is None else None
        if staged is not None and case_id in staged.keys:
            return staged.keys[case_id]
        key = self.for_opening(case_id, cursor)
        if key is not None:
            return key
        if self.erasure(case_id, cursor) is not None:
            raise CaseErased("case_erased", case=case_id)
        if staged is not None:
            return staged.new_key(case_id, now)
        with self._transaction(cursor, commit=True) as writing:
            # Another writer may have created it since: theirs stands, and is read back below.
            self._insert_new_keys(writing, [(case_id, now)])
        self._cache.pop(case_id, None)
        key = self.for_opening(case_id, cursor)
        if key is None:
            raise CaseErased("case_erased", case=case_id)
        return key

    @contextmanager
    def staging(self) -> Iterator[StagedKeys]:
        """Within this block (one command's save, in this thread), a new case key and an
        identity lookup wait in the `StagedKeys` yielded, to be stored by the save's own
        transaction (`StagedKeys.store`), instead of each committing on its own first."""
        staged = StagedKeys(self)
        self._staging.current = staged
        try:
            yield staged
        finally:
            self._staging.current = None

    def _staged(self) -> StagedKeys | None:
        current: StagedKeys | None = getattr(self._staging, "current", None)
        return current

    def ensure(self, first_sealed: dict[UUID, datetime]) -> None:
        """Create the missing keys of many cases in one transaction per chunk (an import),
        instead of one commit per new case when each is first sealed. Erased cases stay so."""
        wanted = list(first_sealed)
        for start in range(0, len(wanted), _ENSURE_CHUNK):
            chunk = wanted[start:start + _ENSURE_CHUNK]
            self.load(chunk)
            missing = [c for c in chunk if self._cache[c][0] is None]
            if not missing:
                continue
            with self.datastore.transaction(commit=True) as writing:
                self._insert_new_keys(writing, [(c, first_sealed[c]) for c in missing])
            for case_id in missing:
                self._cache.pop(case_id, None)
            self.load(missing)

    def _insert_new_keys(self, cursor: Any, cases: list[tuple[UUID, datetime]]) -> None:
        # ON CONFLICT DO NOTHING: a key another writer stored first stands, and an erased
        # case's row (its key NULL) is never given a new key.
        statement = (
            f"INSERT INTO {self.keys_table} (case_id, wrapped_key, created_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (case_id) DO NOTHING"
        )
        if self.dialect == "sqlite":
            statement = statement.replace("%s", "?")
        cursor.executemany(statement, [
            (str(case_id), self._wrap(case_id, AESGCM.generate_key(bit_length=256)),
             now.isoformat())
            for case_id, now in cases
        ])

    def _wrap(self, case_id: UUID, raw: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._key_encryption_key().encrypt(nonce, raw, self._wrap_aad(case_id))

    def for_opening(self, case_id: UUID, cursor: Any | None = None) -> AESGCM | None:
        """The case's key, or None if it has none (yet) or it was destroyed."""
        cached = self._cache.get(case_id)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        self.load([case_id], cursor)
        return self._cache[case_id][0]

    def load(self, case_ids: list[UUID], cursor: Any | None = None) -> None:
        """Read and unwrap the keys of many cases in one query (for a listing)."""
        now = time.monotonic()
        wanted = list(dict.fromkeys(
            c for c in case_ids if c not in self._cache or now - self._cache[c][1] >= CACHE_SECONDS
        ))
        if not wanted:
            return
        found: dict[UUID, AESGCM | None] = dict.fromkeys(wanted)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            with self._transaction(cursor, commit=False) as reading:
                self._execute(
                    reading,
                    f"SELECT case_id, wrapped_key FROM {self.keys_table} WHERE case_id IN ({marks})",
                    tuple(str(c) for c in chunk),
                )
                rows = self._rows(reading)
            for case_id, wrapped in rows:
                if wrapped is not None:
                    found[UUID(str(case_id))] = self._unwrap(UUID(str(case_id)), bytes(wrapped))
        moment = time.monotonic()
        for case_id, key in found.items():
            self._cache[case_id] = (key, moment)
            self._cache.move_to_end(case_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def forget(self, case_ids: Iterable[UUID]) -> None:
        """Drop these cases' keys from memory (a rebuild is done with them)."""
        for case_id in case_ids:
            self._cache.pop(case_id, None)

    def _unwrap(self, case_id: UUID, wrapped: bytes) -> AESGCM:
        try:
            raw = self._key_encryption_key().decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], self._wrap_aad(case_id)
            )
        except InvalidTag:
            raise KeyProblem("master_key_wrong", case=case_id) from None
        return AESGCM(raw)

    def erasure(self, case_id: UUID, cursor: Any | None = None) -> Erasure | None:
        """When, by whom and why the case's key was destroyed (None if it was not)."""
        with self._transaction(cursor, commit=False) as reading:
            self._execute(
                reading,
                f"SELECT erased_at, erased_by, reason FROM {self.keys_table} "
                "WHERE case_id = %s AND erased_at IS NOT NULL",
                (str(case_id),),
            )
            rows = self._rows(reading)
        if not rows:
            return None
        at, by, reason = rows[0]
        return Erasure(case_id, datetime.fromisoformat(str(at)), str(by), str(reason))

    def destroy(self, case_id: UUID, *, at: datetime, by: str, reason: str) -> None:
        """Destroy the case's key for good, keeping when, by whom and why; drop its lookups."""
        with self.datastore.transaction(commit=True) as cursor:
            self._execute(
                cursor,
                f"INSERT INTO {self.keys_table} (case_id, wrapped_key, created_at) "
                "VALUES (%s, NULL, %s) ON CONFLICT (case_id) DO NOTHING",
                (str(case_id), at.isoformat()),
            )
            self._execute(
                cursor,
                f"UPDATE {self.keys_table} SET wrapped_key = NULL, erased_at = %s, "
                "erased_by = %s, reason = %s WHERE case_id = %s",
                (at.isoformat(), by, reason, str(case_id)),
            )
            self._execute(
                cursor, f"DELETE FROM {self.identity_table} WHERE case_id = %s", (str(case_id),)
            )
        self._cache[case_id] = (None, time.monotonic())

    # -- the identity index ----------------------------------------------------------------

    def index_identity(self, lookup_key: str, case_id: UUID) -> None:
        """Remember that the identity number with this lookup key belongs to the case."""
        if self._deferred_index is not None:
            self._deferred_index.append((lookup_key, str(case_id)))
            return
        staged = self._staged()
        if staged is not None:
            staged.lookups.append((lookup_key, str(case_id)))
            return
        self._write_identity_index([(lookup_key, str(case_id))])

    @contextmanager
    def identity_index_deferred(self) -> Iterator[None]:
        """Collect the lookups of a bulk write and store them in one transaction when it has
        succeeded (an import), instead of one commit each before the events are stored."""
        self._deferred_index = []
        try:
            yield
            collected = self._deferred_index
        finally:
            self._deferred_index = None
        self._write_identity_index(collected)

    def _write_identity_index(self, rows: list[tuple[str, str]]) -> None:
        if not rows:
            return
        with self.datastore.transaction(commit=True) as cursor:
            self._insert_lookups(cursor, rows)

    def _insert_lookups(self, cursor: Any, rows: list[tuple[str, str]]) -> None:
        statement = (
            f"INSERT INTO {self.identity_table} (lookup_key, case_id) VALUES (%s, %s) "
            "ON CONFLICT (lookup_key, case_id) DO NOTHING"
        )
        if self.dialect == "sqlite":
            statement = statement.replace("%s", "?")
        cursor.executemany(statement, rows)

    def cases_with_identity(self, lookup_key: str) -> list[UUID]:
        """The cases whose child has the identity number with this lookup key."""
        with self.datastore.transaction(commit=False) as cursor:
            self._execute(
                cursor,
                f"SELECT case_id FROM {self.identity_table} WHERE lookup_key = %s "
                "ORDER BY case_id",
                (lookup_key,),
            )
            return [UUID(str(row[0])) for row in self._rows(cursor)]


class StagedKeys:
    """The new case keys and identity lookups of one command, stored by its save's transaction.

    `store` is the recorder's `before` hook: it runs in the save's transaction before the
    events go in. A key row is inserted without ON CONFLICT: if another writer stored the
    case's key first, the insert fails, the whole save with it (an IntegrityError, as for
    an event version taken first), and the command is tried again with the stored key.
    """

    def __init__(self, keys: CaseKeys) -> None:
        self.owner = keys
        self.keys: dict[UUID, AESGCM] = {}
        self.rows: list[tuple[str, bytes, str]] = []
        self.lookups: list[tuple[str, str]] = []

    def new_key(self, case_id: UUID, now: datetime) -> AESGCM:
        """A new random key for the case, kept here until the save stores it."""
        raw = AESGCM.generate_key(bit_length=256)
        self.keys[case_id] = key = AESGCM(raw)
        self.rows.append((str(case_id), self.owner._wrap(case_id, raw), now.isoformat()))
        self.owner.forget([case_id])  # a "no key" remembered from before must not stand
        return key

    def store(self, cursor: Any) -> None:
        """Insert the staged key rows and lookups with the save's own cursor."""
        if self.rows:
            statement = (f"INSERT INTO {self.owner.keys_table} (case_id, wrapped_key, created_at) "
                         "VALUES (%s, %s, %s)")
            if self.owner.dialect == "sqlite":
                statement = statement.replace("%s", "?")
            cursor.executemany(statement, self.rows)
        if self.lookups:
            self.owner._insert_lookups(cursor, self.lookups)

    def kept(self) -> None:
        """The save committed: its new keys are the cases' keys from now on."""
        moment, cache = time.monotonic(), self.owner._cache
        for case_id, key in self.keys.items():
            cache[case_id] = (key, moment)
            cache.move_to_end(case_id)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)

    def abandon(self) -> None:
        """The save failed: none of its keys was stored, so none may be remembered (a
        projection may have read one inside the transaction that was rolled back)."""
        self.owner.forget(self.keys)
        self.keys.clear()
        self.rows.clear()
        self.lookups.clear()
