"""A municipality's rulebook: the deadlines and numbers its handlingsveileder sets, each cited."""

from __future__ import annotations

import hashlib
import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from ledger import messages
from ledger.problems import problem_words

_PACKAGE = "ledger.policies"
_FOLDER = "rulebooks"
_SUFFIX = ".toml"


def _cites_something(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError(
            "source_missing", "must say where the value comes from (a seed and place, or why none)"
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("string_blank", "must not be blank")
    return value


Source = Annotated[str, Field(min_length=1), AfterValidator(_cites_something)]
"""Where a value comes from: seed, place and the seed's own words, or why no seed gives it."""

NonEmpty = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CitedInt(_Frozen):
    """A whole number with the place it comes from."""

    value: int = Field(ge=0)
    source: Source


class Duration(_Frozen):
    """How long after its basis a deadline falls due, with the place it comes from.

    `end_of_day`: due at the end of the basis day in Europe/Oslo, plus `amount` days
    (0 = the same day).
    """

    amount: int = Field(ge=0)
    unit: Literal["days", "weeks", "working_days", "end_of_day"]
    source: Source


class ReminderStage(_Frozen):
    """When a reminder goes out, relative to the due day (negative = before, 0 = on the day)."""

    name: Literal["upcoming", "due", "overdue"]
    offset_days: int
    to_leader: bool = False
    source: Source

    @model_validator(mode="after")
    def _offset_fits_name(self) -> Self:
        fits = {
            "upcoming": self.offset_days < 0,
            "due": self.offset_days == 0,
            "overdue": self.offset_days > 0,
        }[self.name]
        if not fits:
            wanted = {"upcoming": "negative", "due": "0", "overdue": "positive"}[self.name]
            raise PydanticCustomError(
                f"{self.name}_offset_days",
                f"offset_days of an '{self.name}' reminder must be {wanted}, not {{offset}}",
                {"offset": self.offset_days},
            )
        return self


class Durations(_Frozen):
    """One duration per deadline rule that the rulebook sets (DOMAIN.md, "Deadlines")."""

    share_with_leader: Duration
    s12_innkalling: Duration
    samtale_with_guardians: Duration
    s42_barnehagemiljo: Duration
    decision_level0: Duration
    report_to_barnevern: Duration
    child_talk_after_level3_meeting: Duration
    stalled_case: Duration
    handover_not_accepted: Duration


class Rulebook(_Frozen):
    """The settings one ledger runs on; changing them never rewrites history."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: NonEmpty
    title: NonEmpty
    seed: NonEmpty
    self_consent_age: CitedInt
    level3_min_services: CitedInt
    statistics_threshold: CitedInt
    retention_years: CitedInt
    durations: Durations
    reminder_stages: tuple[ReminderStage, ...] = Field(min_length=1)

    @field_validator("self_consent_age")
    @classmethod
    def _consent_age_is_a_minor_age(cls, age: CitedInt) -> CitedInt:
        # From 18 a person consents for themselves in any case; a higher value means nothing.
        if age.value > 18:
            raise PydanticCustomError(
                "self_consent_age_above_18", "must be 18 or less, not {value}", {"value": age.value}
            )
        return age

    @field_validator("level3_min_services")
    @classmethod
    def _level3_needs_more_than_one_service(cls, minimum: CitedInt) -> CitedInt:
        # Level 2 already has the own service and one other; level 3 cannot ask for less.
        if minimum.value < 2:
            raise PydanticCustomError(
                "level3_services_below_2",
                "must be at least 2 (the case's own service and one other), not {value}",
                {"value": minimum.value},
            )
        return minimum

    @field_validator("reminder_stages")
    @classmethod
    def _stage_names_are_unique(
        cls, stages: tuple[ReminderStage, ...]
    ) -> tuple[ReminderStage, ...]:
        names = [stage.name for stage in stages]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise PydanticCustomError(
                "stage_names_repeated", "stage names must be unique; repeated: {names}",
                {"names": ", ".join(doubles)},
            )
        return stages

    @property
    def digest(self) -> str:
        """sha256 of the rulebook's canonical JSON: the same values give the same digest."""
        canonical = json.dumps(
            self.model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


class RulebookInvalid(Exception):
    """A rulebook file is not valid TOML or does not have the shape a rulebook needs."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        super().__init__(origin, problems)

    def __str__(self) -> str:
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        return (
            f"rulebook {self.origin} is invalid "
            f"({count} problem{'s' if count != 1 else ''}):\n{lines}"
        )


class RulebookNotFound(Exception):
    """No shipped rulebook has that name, and no file is at that path."""

    def __init__(self, name: str, shipped: list[str]) -> None:
        self.name = name
        self.shipped = shipped
        super().__init__(name, shipped)

    def __str__(self) -> str:
        known = ", ".join(self.shipped) or "none"
        return (
            f"no rulebook '{self.name}': shipped rulebooks are {known}; "
            f"or give the path to a .toml file"
        )


def _folder() -> resources.abc.Traversable:
    return resources.files(_PACKAGE).joinpath(_FOLDER)


def shipped_rulebook_names() -> list[str]:
    """The names of the rulebooks shipped with the package, sorted."""
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in _folder().iterdir()
        if entry.is_file() and entry.name.endswith(_SUFFIX)
    )


def _problem(error: ErrorDetails) -> str:
    """`where.in.the.file: what is wrong`, in the catalogue's words."""
    location = ".".join(str(part) for part in error["loc"]) or "(rulebook)"
    return f"{location}: {problem_words(error)}"


def parse_rulebook(text: str, origin: str) -> Rulebook:
    """Read a rulebook from TOML text; `origin` names it in errors (a file name or a name)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        problem = messages.text("problem.toml_invalid", detail=str(error))
        raise RulebookInvalid(origin, [problem]) from None
    try:
        return Rulebook.model_validate(data)
    except ValidationError as error:
        problems = [_problem(e) for e in error.errors(include_url=False)]
        raise RulebookInvalid(origin, problems) from None


def _load_shipped(name: str) -> Rulebook:
    text = _folder().joinpath(name + _SUFFIX).read_text(encoding="utf-8")
    rulebook = parse_rulebook(text, origin=f"'{name}' (shipped)")
    if rulebook.name != name:
        raise RulebookInvalid(
            f"'{name}' (shipped)",
            [f"name: '{rulebook.name}' does not match the file name '{name}{_SUFFIX}'"],
        )
    return rulebook


def _load_file(path: Path) -> Rulebook:
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise RulebookNotFound(str(path), shipped_rulebook_names()) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RulebookInvalid(str(path), [f"file: not UTF-8 text ({error.reason})"]) from None
    return parse_rulebook(text, origin=str(path))


def load_rulebook(name_or_path: str | Path) -> Rulebook:
    """Load a shipped rulebook by name (`"sondre-land"`) or a rulebook file by path."""
    if isinstance(name_or_path, str) and name_or_path in shipped_rulebook_names():
        return _load_shipped(name_or_path)
    candidate = Path(name_or_path)
    looks_like_path = (
        isinstance(name_or_path, Path)
        or candidate.suffix == _SUFFIX
        or len(candidate.parts) > 1
        or candidate.exists()
    )
    if looks_like_path:
        return _load_file(candidate)
    raise RulebookNotFound(str(name_or_path), shipped_rulebook_names())
