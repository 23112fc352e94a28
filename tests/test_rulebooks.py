"""The shipped rulebooks load, cite their seeds, and bad rulebook files are refused by name."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from ledger import messages
from ledger.policies.rulebook import (
    Rulebook,
    RulebookInvalid,
    RulebookNotFound,
    load_rulebook,
    parse_rulebook,
    shipped_rulebook_names,
)

SHIPPED = shipped_rulebook_names()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[ " + ", ".join(_toml_value(v) for v in value) + " ]"
    raise TypeError(type(value))


def as_inline_toml(data: dict[str, Any]) -> str:
    """The same values in another TOML layout: inline tables, keys in reverse order."""
    return "\n".join(f"{key} = {_toml_value(data[key])}" for key in reversed(list(data)))


def default_data() -> dict[str, Any]:
    return load_rulebook("default").model_dump(mode="json")


def sources(data: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (field path, source) pair in a dumped rulebook."""
    if isinstance(data, dict):
        if "source" in data:
            yield path, data["source"]
        for key, value in data.items():
            yield from sources(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from sources(value, f"{path}.{index}")


def refusal(text: str) -> RulebookInvalid:
    with pytest.raises(RulebookInvalid) as caught:
        parse_rulebook(text, origin="test.toml")
    return caught.value


# --- the shipped rulebooks -------------------------------------------------------------


def test_the_shipped_rulebooks_are_the_default_seed_001_and_sondre_land() -> None:
    assert SHIPPED == ["default", "seed-001", "sondre-land"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_rulebook_loads_and_carries_its_own_name(name: str) -> None:
    rulebook = load_rulebook(name)

    assert rulebook.name == name
    assert rulebook.version
    assert len(rulebook.digest) == 64


@pytest.mark.parametrize("name", SHIPPED)
def test_every_value_in_a_shipped_rulebook_says_where_it_comes_from(name: str) -> None:
    data = load_rulebook(name).model_dump(mode="json")
    found = dict(sources(data))

    cited = {"self_consent_age", "level3_min_services", "statistics_threshold", "retention_years"}
    cited |= {f"durations.{rule}" for rule in data["durations"]}
    cited |= {f"reminder_stages.{i}" for i in range(len(data["reminder_stages"]))}
    assert set(found) == cited
    assert all(isinstance(text, str) and text.strip() for text in found.values())


@pytest.mark.parametrize("name", SHIPPED)
def test_every_source_names_a_seed_or_says_that_none_gives_the_value(name: str) -> None:
    for path, text in sources(load_rulebook(name).model_dump(mode="json")):
        assert any(seed in text for seed in ("000", "001", "002", "003", "004")) or (
            "No seed" in text
        ), path


def test_sondre_land_calls_in_for_a_s12_samtale_within_one_week() -> None:
    innkalling = load_rulebook("sondre-land").durations.s12_innkalling

    assert (innkalling.amount, innkalling.unit) == (1, "weeks")
    assert "husk fristen på en uke for innkalling" in innkalling.source


def test_sondre_land_holds_the_samtale_with_guardians_within_three_weeks() -> None:
    samtale = load_rulebook("sondre-land").durations.samtale_with_guardians

    assert (samtale.amount, samtale.unit) == (3, "weeks")
    assert "innen 3 uker etter at undringen har oppstått" in samtale.source


def test_seed_001_decides_on_niva_0_within_two_weeks() -> None:
    decision = load_rulebook("seed-001").durations.decision_level0

    assert (decision.amount, decision.unit) == (2, "weeks")
    assert "Innen to uker ta beslutningen" in decision.source


def test_seed_001_talks_with_the_child_at_the_latest_a_week_after_the_niva_3_meeting() -> None:
    rulebook = load_rulebook("seed-001")
    talk = rulebook.durations.child_talk_after_level3_meeting

    assert (talk.amount, talk.unit) == (1, "weeks")
    assert "Senest en uke etter møtet" in talk.source
    assert rulebook.level3_min_services.value == 3


@pytest.mark.parametrize("name", SHIPPED)
def test_a_report_to_barnevern_is_due_by_the_end_of_the_day_the_suspicion_arose(
    name: str,
) -> None:
    report = load_rulebook(name).durations.report_to_barnevern

    assert (report.amount, report.unit) == (0, "end_of_day")


def test_the_default_rulebook_uses_the_documented_defaults() -> None:
    rulebook = load_rulebook("default")

    assert rulebook.self_consent_age.value == 16
    assert rulebook.statistics_threshold.value == 5
    assert rulebook.level3_min_services.value == 3
    assert [(s.name, s.offset_days, s.to_leader) for s in rulebook.reminder_stages] == [
        ("upcoming", -2, False),
        ("due", 0, False),
        ("overdue", 1, True),
    ]


def test_a_loaded_rulebook_cannot_be_changed() -> None:
    rulebook = load_rulebook("default")

    with pytest.raises(ValidationError):
        rulebook.version = "tampered"  # type: ignore[misc]


# --- loading by name and by path ---------------------------------------------------------


def test_an_unknown_name_is_refused_and_the_shipped_names_are_listed() -> None:
    with pytest.raises(RulebookNotFound) as caught:
        load_rulebook("oslo")

    assert caught.value.name == "oslo"
    assert str(caught.value) == (
        "no rulebook 'oslo': shipped rulebooks are default, seed-001, sondre-land; "
        "or give the path to a .toml file"
    )


def test_a_missing_rulebook_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(RulebookNotFound, match="shipped rulebooks are default"):
        load_rulebook(tmp_path / "nowhere.toml")


def test_a_rulebook_file_is_loaded_from_its_path(tmp_path: Path) -> None:
    data = default_data() | {"name": "my-kommune"}
    path = tmp_path / "my-kommune.toml"
    path.write_text(as_inline_toml(data), encoding="utf-8")

    assert load_rulebook(path).name == "my-kommune"
    assert load_rulebook(str(path)).name == "my-kommune"


# --- bad rulebook files ------------------------------------------------------------------


def test_a_rulebook_without_a_stalled_case_duration_is_refused_naming_it() -> None:
    data = default_data()
    del data["durations"]["stalled_case"]

    error = refusal(as_inline_toml(data))

    assert error.origin == "test.toml"
    assert error.problems == ["durations.stalled_case: det mangler og må fylles ut"]


def test_a_negative_amount_is_refused_naming_the_field() -> None:
    data = default_data()
    data["durations"]["s12_innkalling"]["amount"] = -1

    error = refusal(as_inline_toml(data))

    assert error.problems == [
        "durations.s12_innkalling.amount: det må være 0 eller mer"
    ]


def test_an_unknown_key_is_refused_naming_it() -> None:
    data = default_data()
    data["durations"]["share_with_leader"]["amout"] = 2
    data["colour"] = "blue"

    error = refusal(as_inline_toml(data))

    assert sorted(error.problems) == [
        "colour: feltet hører ikke hjemme her; ta det bort, eller sjekk stavemåten",
        "durations.share_with_leader.amout: feltet hører ikke hjemme her; ta det bort, eller "
        "sjekk stavemåten",
    ]


def test_an_unknown_unit_is_refused_naming_the_field() -> None:
    data = default_data()
    data["durations"]["decision_level0"]["unit"] = "fortnights"

    (problem,) = refusal(as_inline_toml(data)).problems

    assert problem == (
        "durations.decision_level0.unit: det kan bare være days, weeks, working_days eller "
        "end_of_day"
    )


def test_a_source_of_only_spaces_is_refused() -> None:
    data = default_data()
    data["self_consent_age"]["source"] = "   "

    assert refusal(as_inline_toml(data)).problems == [
        "self_consent_age.source: det må stå hvor verdien kommer fra "
        "(veilederen og stedet i den, eller hvorfor ingen)"
    ]


def test_a_rulebook_without_reminder_stages_is_refused() -> None:
    data = default_data() | {"reminder_stages": []}

    (problem,) = refusal(as_inline_toml(data)).problems

    assert problem.startswith("reminder_stages: ")


def test_two_reminder_stages_with_the_same_name_are_refused() -> None:
    data = default_data()
    data["reminder_stages"].append(data["reminder_stages"][0])

    assert refusal(as_inline_toml(data)).problems == [
        "reminder_stages: hvert trinn kan stå bare én gang; gjentatt: upcoming"
    ]


def test_an_overdue_reminder_before_the_due_day_is_refused() -> None:
    data = default_data()
    data["reminder_stages"][2]["offset_days"] = -1

    assert refusal(as_inline_toml(data)).problems == [
        "reminder_stages.2: offset_days for en påminnelse etter fristen («overdue») må være "
        "positiv (dager etter fristdagen), ikke -1"
    ]


def test_a_self_consent_age_above_eighteen_is_refused() -> None:
    data = default_data()
    data["self_consent_age"]["value"] = 21

    assert refusal(as_inline_toml(data)).problems == [
        "self_consent_age: alderen må være 18 eller lavere (fra 18 år samtykker alle selv), "
        "ikke 21"
    ]


def test_the_coordinator_who_chose_english_reads_a_rulebook_problem_in_english() -> None:
    data = default_data()
    data["level3_min_services"]["value"] = 1
    messages.set_language("en")
    try:
        problems = refusal(as_inline_toml(data)).problems
    finally:
        messages.set_language("nb")

    assert problems == [
        "level3_min_services: it must be at least 2 (the case's own service and one other), "
        "not 1"
    ]


def test_a_name_that_is_not_a_slug_is_refused() -> None:
    data = default_data() | {"name": "Søndre Land"}

    (problem,) = refusal(as_inline_toml(data)).problems

    assert problem.startswith("name: det har tegn eller en form som ikke er tillatt her")


def test_a_toml_syntax_error_is_refused_with_its_line() -> None:
    error = refusal('name = "default"\nversion = \n')

    (problem,) = error.problems
    assert problem.startswith("filen er ikke gyldig TOML (")
    assert "line 2" in problem
    assert str(error) == f"rulebook test.toml is invalid (1 problem):\n  - {problem}"


def test_every_problem_of_a_bad_file_is_listed_at_once() -> None:
    data = default_data()
    data["durations"]["stalled_case"]["amount"] = -8
    del data["retention_years"]

    error = refusal(as_inline_toml(data))

    assert len(error.problems) == 2
    assert str(error).startswith("rulebook test.toml is invalid (2 problems):\n  - ")


# --- the digest --------------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_the_digest_is_the_same_whatever_the_toml_layout(name: str) -> None:
    shipped = load_rulebook(name)

    relaid = parse_rulebook(as_inline_toml(shipped.model_dump(mode="json")), origin="relaid")

    assert relaid == shipped
    assert relaid.digest == shipped.digest


def test_the_digest_is_the_sha256_of_the_canonical_json() -> None:
    rulebook = load_rulebook("default")
    canonical = json.dumps(
        rulebook.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()

    assert rulebook.digest == hashlib.sha256(canonical).hexdigest()


def test_the_digest_changes_when_a_value_changes() -> None:
    data = default_data()
    before = parse_rulebook(as_inline_toml(data), origin="before").digest
    data["durations"]["samtale_with_guardians"]["amount"] = 4

    after = parse_rulebook(as_inline_toml(data), origin="after").digest

    assert after != before


def test_the_shipped_rulebooks_have_different_digests() -> None:
    digests = {load_rulebook(name).digest for name in SHIPPED}

    assert len(digests) == len(SHIPPED)


def test_a_rulebook_is_a_pydantic_model_that_round_trips_through_json() -> None:
    rulebook = load_rulebook("sondre-land")

    assert Rulebook.model_validate_json(rulebook.model_dump_json()) == rulebook
