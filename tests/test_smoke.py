"""A first story: a teacher registers an undring and shares it with the rektor."""

from __future__ import annotations

from ledger.application import CaseLedger
from tests.cast import TEACHER, SetClock


def test_an_undring_is_kept_and_read_back_equal(ledger: CaseLedger, clock: SetClock, reopen) -> None:  # type: ignore[no-untyped-def]
    undring = ledger.register_undring(
        actor=TEACHER, child_ref="Elev-17", child_birth_date="2014-05-01", unit="Fossen skole",
        service="skole", noticed_at=clock.now, observations="Trekker seg unna i friminuttene.",
    )
    clock.advance(hours=2)
    shared = ledger.share_with_leader(
        undring.case_id, actor=TEACHER, leader="Rita Rektor", how="samtale"
    )
    history = reopen().history(undring.case_id)
    assert history == [undring, shared]
