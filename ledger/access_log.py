"""The read audit: who read which case's personal data, when, what and why, append-only.

Every read of one case's personal data through the CaseLedger (show, history, timeline,
report, export, the case's access list, its state as of a date, and this log itself)
writes one entry, refused reads too, *before* anything is returned. The entries live in
`bti_access_log` in the ledger's own database, beside the projections; the database
itself refuses to change or delete them (SQLite: BEFORE UPDATE / BEFORE DELETE triggers
that RAISE(ABORT); PostgreSQL: a trigger function that raises, also on TRUNCATE).

Listings (`bti case list`, `bti deadlines`, `bti stafett`), statistics and `bti verify`
are not logged per case: listings show only cases the reader may read and no personal
data beyond the pseudonymous reference; statistics and verification read none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args
from uuid import UUID

from ledger.events import Actor
from ledger.projections.case_summary import utc_text
from ledger.projections.sql import Cursor, Database

TABLE = "bti_access_log"

What = Literal[
    "show", "history", "timeline", "report", "export", "access", "as_of", "access_log", "find",
    "reminders",
]
"""Which read: `access_log` is reading this log for a case (it is logged too)."""
WHATS: tuple[str, ...] = get_args(What)
Outcome = Literal["allowed", "refused"]

_COLUMNS = "id, at, case_id, person, role, service, unit, what, purpose, outcome, code"


@dataclass(frozen=True)
class AccessLogEntry:
    """One read of one case: who, when (the ledger's clock), what, why, and the outcome."""

    id: int
    at: datetime
    case_id: UUID
    person: str
    role: str
    service: str
    unit: str
    what: str
    purpose: str | None
    outcome: Outcome
    code: str | None
    """Why a read was refused (`access.refused.<code>`); None when allowed."""

    def as_dict(self) -> dict[str, object]:
        """A plain shape for JSON output."""
        return {
            "id": self.id, "at": self.at.isoformat(), "case_id": str(self.case_id),
            "person": self.person, "role": self.role, "service": self.service,
            "unit": self.unit, "what": self.what, "purpose": self.purpose,
            "outcome": self.outcome, "code": self.code,
        }


class AccessLog:
    """The append-only read audit of one ledger."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self.table = database.table(TABLE)
        # Written once: the same text each time lets both drivers reuse the prepared statement.
        self._insert = (
            f"INSERT INTO {self.table} "
            "(at, case_id, person, role, service, unit, what, purpose, outcome, code) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        )
        # A write that changes nothing (UPDATE of no row: the trigger fires per row): it takes
        # SQLite's write lock at the start of a transaction that reads before it appends, so
        # the append cannot fail on a snapshot another process has moved on from meanwhile.
        self._lock = f"UPDATE {self.table} SET id = id WHERE id < 0"

    def setup(self) -> None:
        """Create the table and the triggers that keep it append-only, if missing."""
        if self.db.dialect == "sqlite":
            self._setup_sqlite()
        else:
            self._setup_postgres()

    def _setup_sqlite(self) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, case_id TEXT NOT NULL, "
                "person TEXT NOT NULL, role TEXT NOT NULL, service TEXT NOT NULL, "
                "unit TEXT NOT NULL, what TEXT NOT NULL, purpose TEXT, outcome TEXT NOT NULL, "
                "code TEXT)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS bti_access_log_case ON {self.table} (case_id, id)"
            )
            for verb in ("UPDATE", "DELETE"):
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS bti_access_log_no_{verb.lower()} "
                    f"BEFORE {verb} ON {self.table} "
                    "BEGIN SELECT RAISE(ABORT, 'bti_access_log is append-only'); END"
                )

    def _setup_postgres(self) -> None:
        schema = self.db.schema or "public"
        function = f'"{schema}".bti_access_log_append_only'
        with self.db.transaction() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (f'"{schema}".{TABLE}',))
            row = cursor.fetchone()
            if row is not None and row[0] is not None:
                return
            # Two processes opening a new ledger at once take turns here.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{schema}.{TABLE}",))
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, case_id TEXT NOT NULL, "
                "person TEXT NOT NULL, role TEXT NOT NULL, service TEXT NOT NULL, "
                "unit TEXT NOT NULL, what TEXT NOT NULL, purpose TEXT, outcome TEXT NOT NULL, "
                "code TEXT)"
            )
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS bti_access_log_case ON {self.table} (case_id, id)"
            )
            cursor.execute(
                f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'bti_access_log is append-only'; END $$"
            )
            for name, timing in (
                ("bti_access_log_no_change", "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW"),
                ("bti_access_log_no_truncate", "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT"),
            ):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {self.table}")
                cursor.execute(
                    f"CREATE TRIGGER {name} {timing.format(t=self.table)} "
                    f"EXECUTE FUNCTION {function}()"
                )

    def append(
        self,
        *,
        at: datetime,
        case_id: UUID,
        reader: Actor,
        what: What,
        purpose: str | None,
        outcome: Outcome,
        code: str | None = None,
    ) -> None:
        """Write one entry (committed before the caller returns anything)."""
        with self.db.transaction() as cursor:
            self.append_in(cursor, at=at, case_id=case_id, reader=reader, what=what,
                           purpose=purpose, outcome=outcome, code=code)

    def lock(self, cursor: Cursor) -> None:
        """Take the write lock first, in a transaction that reads and then appends (SQLite)."""
        if self.db.dialect == "sqlite":
            cursor.execute(self._lock)

    def append_in(
        self,
        cursor: Cursor,
        *,
        at: datetime,
        case_id: UUID,
        reader: Actor,
        what: What,
        purpose: str | None,
        outcome: Outcome,
        code: str | None = None,
    ) -> None:
        """Write one entry in the caller's transaction; nothing is to be returned before it
        commits (on SQLite, take `lock` first if the transaction reads before this)."""
        cursor.execute(
            self._insert,
            (utc_text(at), str(case_id), reader.person, reader.role, reader.service,
             reader.unit, what, purpose, outcome, code),
        )

    def entries(self, case_id: UUID) -> list[AccessLogEntry]:
        """The case's entries in the order they were written."""
        with self.db.transaction() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE case_id = %s ORDER BY id",
                (str(case_id),),
            )
            rows = cursor.fetchall()
        return [
            AccessLogEntry(
                id=int(row[0]), at=datetime.fromisoformat(row[1]), case_id=UUID(row[2]),
                person=row[3], role=row[4], service=row[5], unit=row[6], what=row[7],
                purpose=row[8], outcome=row[9], code=row[10],
            )
            for row in rows
        ]
