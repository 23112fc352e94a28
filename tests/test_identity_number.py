"""Stories of the child's identity number: checked by its two mod-11 digits, never shown."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.policies.identity import (
    IdentityNumberInvalid,
    lookup_key,
    parse_identity_number,
    with_check_digits,
)

# Numbers built here from a date and an individual number, with their computed check digits.
A_CHILD_BORN_2014 = with_check_digits("010514" + "512")
A_D_NUMBER = with_check_digits("410514" + "512")


def test_a_fodselsnummer_with_right_check_digits_gives_the_birth_date() -> None:
    assert A_CHILD_BORN_2014 is not None
    number = parse_identity_number(A_CHILD_BORN_2014)
    assert (number.kind, number.birth_date) == ("fodselsnummer", date(2014, 5, 1))


def test_a_d_nummer_adds_four_to_the_first_digit_of_the_day() -> None:
    assert A_D_NUMBER is not None
    number = parse_identity_number(A_D_NUMBER)
    assert (number.kind, number.birth_date) == ("d_nummer", date(2014, 5, 1))


def test_the_individual_number_tells_the_century() -> None:
    # 01010750160: individual number 501 with year 07 belongs to the 2000s.
    assert parse_identity_number("010107 50160").birth_date == date(2007, 1, 1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0105145121", "not_eleven_digits"),
        ("010514-5123", "not_eleven_digits"),
        ("01051451200", "check_digits"),
        ("32131451200", "check_digits"),
    ],
)
def test_a_wrong_number_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(IdentityNumberInvalid) as caught:
        parse_identity_number(text)
    assert caught.value.reason == reason


def test_an_impossible_date_with_right_check_digits_is_refused() -> None:
    impossible = with_check_digits("310214" + "512")  # 31 February
    assert impossible is not None
    with pytest.raises(IdentityNumberInvalid) as caught:
        parse_identity_number(impossible)
    assert caught.value.reason == "birth_date"


def test_the_number_never_shows_in_its_representation() -> None:
    assert A_CHILD_BORN_2014 is not None
    assert A_CHILD_BORN_2014 not in repr(parse_identity_number(A_CHILD_BORN_2014))


def test_the_lookup_key_depends_on_the_secret_and_hides_the_number() -> None:
    assert A_CHILD_BORN_2014 is not None
    number = parse_identity_number(A_CHILD_BORN_2014)
    first, second = lookup_key(number, b"secret-a"), lookup_key(number, b"secret-b")
    assert first != second and len(first) == 64
    assert A_CHILD_BORN_2014 not in first
    assert lookup_key(parse_identity_number(A_CHILD_BORN_2014), b"secret-a") == first


birth_dates = st.dates(min_value=date(1940, 1, 1), max_value=date(2039, 12, 31))


def first_nine(born: date, individual: int, d_number: bool) -> str:
    day = born.day + (40 if d_number else 0)
    return f"{day:02d}{born.month:02d}{born.year % 100:02d}{individual:03d}"


def individual_for(born: date, seed: int) -> int:
    """An individual number that the century rules map back to the birth year."""
    if born.year >= 2000:
        return 500 + seed % 500
    return seed % 500


@given(born=birth_dates, seed=st.integers(0, 10_000), d_number=st.booleans())
def test_every_number_built_with_its_check_digits_parses_back_to_its_date(
    born: date, seed: int, d_number: bool
) -> None:
    digits = with_check_digits(first_nine(born, individual_for(born, seed), d_number))
    if digits is None:
        return  # about one in six combinations has no check digit (10): never issued
    number = parse_identity_number(digits)
    assert number.birth_date == born
    assert number.kind == ("d_nummer" if d_number else "fodselsnummer")


@given(born=birth_dates, seed=st.integers(0, 10_000), position=st.integers(0, 10),
       change=st.integers(1, 9))
def test_changing_any_one_digit_is_always_caught(
    born: date, seed: int, position: int, change: int
) -> None:
    digits = with_check_digits(first_nine(born, individual_for(born, seed), False))
    if digits is None:
        return
    wrong = digits[:position] + str((int(digits[position]) + change) % 10) + digits[position + 1:]
    with pytest.raises(IdentityNumberInvalid):
        parse_identity_number(wrong)
