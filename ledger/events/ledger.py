"""Events about the ledger itself: which rulebook it follows, and from when."""

from __future__ import annotations

from typing import Any, Literal
from uuid import NAMESPACE_URL, uuid5

from pydantic import Field

from ledger.events.base import LedgerEvent, Name

LEDGER_ID = uuid5(NAMESPACE_URL, "urn:bti-ledger:ledger")
"""The id of the ledger's own stream, which holds the rulebooks it has adopted."""


class RulebookAdopted(LedgerEvent):
    """The ledger follows this rulebook from now on; its whole text is kept, history is not."""

    family = "ledger"
    type: Literal["RulebookAdopted"] = "RulebookAdopted"
    rulebook: Name
    rulebook_version: Name
    rulebook_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    rulebook_document: dict[str, Any] = Field(
        description="The rulebook's values as adopted, so deadlines can always be recomputed."
    )
