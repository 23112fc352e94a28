"""The people of the test stories: staff of Fossen skole, Solsiden barnehage and services."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger.events import Actor

TEACHER = Actor(person="Kari Lærer", role="staff", service="skole", unit="Fossen skole")
RECTOR = Actor(person="Rita Rektor", role="leader", service="skole", unit="Fossen skole")
SPECIAL_TEACHER = Actor(person="Sigrid Spes", role="staff", service="skole", unit="Fossen skole")
PEDAGOGUE = Actor(
    person="Berit Pedagog", role="staff", service="barnehage", unit="Solsiden barnehage"
)
STYRER = Actor(person="Sverre Styrer", role="leader", service="barnehage", unit="Solsiden barnehage")
HEALTH_NURSE = Actor(
    person="Helga Helsesykepleier", role="staff", service="helsestasjon", unit="Sentrum helsestasjon"
)
PPT_ADVISER = Actor(person="Per PPT", role="staff", service="ppt", unit="PPT Søndre Land")
BARNEVERN_WORKER = Actor(
    person="Bodil Barnevern", role="staff", service="barnevern", unit="Barneverntjenesten"
)
COORDINATOR = Actor(
    person="Kristin Koordinator", role="coordinator", service="kommune", unit="Oppvekst"
)
TILSYN = Actor(
    person="Tone Tilsyn", role="tilsyn", service="statsforvalteren",
    unit="Statsforvalteren i Innlandet",
)
"""Reads every case whole and writes nothing: the reader the test ledgers are opened for."""


class SetClock:
    """A clock the test sets and moves; the ledger reads it, the domain never does."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward (days=…, hours=…) and return the new time."""
        self.now += timedelta(**delta)
        return self.now


START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
"""Monday 2 March 2026, 09:00 in Oslo: the morning the stories begin."""
