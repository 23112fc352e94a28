"""The child's national identity number: fødselsnummer or D-nummer, checked by its mod-11 digits.

A number is only ever stored encrypted; to find a case by it, the ledger keeps a keyed hash
(HMAC-SHA256 under a secret that is not in the database), so the stored value says nothing
about the number to someone who has only the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import date
from typing import Literal

_K1_WEIGHTS = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_K2_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)

Kind = Literal["fodselsnummer", "d_nummer"]


class IdentityNumberInvalid(ValueError):
    """The text is not a valid fødselsnummer or D-nummer; `.reason` says why, as a code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IdentityNumber:
    """A checked national identity number, its kind and the birth date it encodes."""

    digits: str
    kind: Kind
    birth_date: date

    def __repr__(self) -> str:  # never show the number itself in logs or tracebacks
        return f"IdentityNumber(kind={self.kind!r}, digits='***********')"


def check_digit(digits: str, weights: tuple[int, ...]) -> int | None:
    """The mod-11 check digit for `digits` under `weights`, or None where none exists (10)."""
    remainder = sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11
    digit = (11 - remainder) % 11
    return None if digit == 10 else digit


def with_check_digits(first_nine: str) -> str | None:
    """The eleven digits that `first_nine` makes with both check digits, or None."""
    k1 = check_digit(first_nine, _K1_WEIGHTS)
    if k1 is None:
        return None
    k2 = check_digit(first_nine + str(k1), _K2_WEIGHTS)
    return None if k2 is None else f"{first_nine}{k1}{k2}"


def parse_identity_number(text: str) -> IdentityNumber:
    """Check a fødselsnummer or D-nummer (spaces allowed); raise IdentityNumberInvalid."""
    digits = text.replace(" ", "")
    if len(digits) != 11 or not digits.isdigit():
        raise IdentityNumberInvalid("not_eleven_digits")
    if with_check_digits(digits[:9]) != digits:
        raise IdentityNumberInvalid("check_digits")
    day, month, year, individual = (
        int(digits[0:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6:9])
    )
    kind: Kind = "fodselsnummer"
    if day > 40:  # a D-nummer adds 4 to the first digit of the day
        kind, day = "d_nummer", day - 40
    century = _century(year, individual)
    if century is None:
        raise IdentityNumberInvalid("individual_number")
    try:
        born = date(century + year, month, day)
    except ValueError:
        raise IdentityNumberInvalid("birth_date") from None
    return IdentityNumber(digits, kind, born)


def _century(year: int, individual: int) -> int | None:
    """The century a two-digit year belongs to, by the individual number's range."""
    if individual <= 499:
        return 1900
    if individual <= 749 and year >= 54:
        return 1800
    if year <= 39:
        return 2000
    if individual >= 900:
        return 1900
    return None


def lookup_key(number: IdentityNumber, secret: bytes) -> str:
    """The keyed hash by which a case can be found from its identity number."""
    return hmac.new(secret, number.digits.encode(), hashlib.sha256).hexdigest()
