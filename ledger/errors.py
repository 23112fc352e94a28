"""The ledger's errors: each has a stable code for programs and a message for people.

    LedgerError             anything the ledger refuses or cannot do; `.code`, `.params`
    ├── RuleViolation       a command breaks a rule of the handlingsveileder (DOMAIN.md 1–10)
    │   └── AccessRefused   the actor may not write or read the case (rule 4, access policy)
    ├── InvalidInput        the input is not a well-formed event (field missing, wrong type …)
    ├── ImportRejected      an import file has bad lines; `.problems` lists every one
    ├── ConcurrencyConflict the case kept changing under a command; it was retried, then refused
    ├── LedgerNotFound      there is no ledger at the database URL (run `bti init`)
    └── StoreUnavailable    the database cannot be opened or reached

The message text comes from the catalogue (`ledger/messages.toml`), so it follows the
language setting; `str(error)` is one sentence a teacher can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger import messages


class LedgerError(Exception):
    """Anything the ledger refuses or cannot do."""

    kind = "error"

    def __init__(self, code: str, /, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params

    @property
    def message(self) -> str:
        """The sentence a user reads, in the chosen language."""
        return messages.text(f"{self.kind}.{self.code}", **self.params)

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"

    def as_dict(self) -> dict[str, object]:
        """A plain shape for JSON output and a later HTTP API."""
        return {"code": self.code, "message": self.message, **{
            k: str(v) for k, v in self.params.items()
        }}


class RuleViolation(LedgerError):
    """A command breaks a rule of the handlingsveileder; nothing was stored."""


class AccessRefused(RuleViolation):
    """The actor may not write (or read) this case: no unit, stafett or consent lets them."""

    kind = "access.refused"


class InvalidInput(LedgerError):
    """The input is not a well-formed event; nothing was stored."""


@dataclass(frozen=True)
class LineProblem:
    """One bad line of an import file."""

    line: int
    field: str
    code: str
    message: str


class ImportRejected(LedgerError):
    """An import file has bad lines; none of the file was stored."""

    def __init__(self, problems: list[LineProblem]) -> None:
        super().__init__("import_rejected", count=len(problems))
        self.problems = problems

    def as_dict(self) -> dict[str, object]:
        return {
            **super().as_dict(),
            "problems": [p.__dict__ for p in self.problems],
        }


class ConcurrencyConflict(LedgerError):
    """The case kept changing under a command; it was retried, then refused."""


class LedgerNotFound(LedgerError):
    """There is no ledger at the database URL."""


class StoreUnavailable(LedgerError):
    """The database cannot be opened or reached."""
