"""The one message catalogue: every word a user reads, in Norwegian bokmål and English."""

from __future__ import annotations

import tomllib
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Literal

from ledger.policies.calendar import OSLO

Language = Literal["nb", "en"]
LANGUAGES: tuple[Language, ...] = ("nb", "en")

_language: Language = "nb"


def set_language(language: str) -> None:
    """Choose the language of everything users read (default bokmål)."""
    global _language  # noqa: PLW0603 - one process-wide setting, chosen at start-up
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    _language = language


def current_language() -> Language:
    """The language chosen by `set_language` (bokmål unless changed)."""
    return _language


@cache
def catalogue() -> dict[str, dict[str, str]]:
    """Every message key with its texts, flattened to dotted keys ("error.case_closed")."""
    raw = tomllib.loads(resources.files("ledger").joinpath("messages.toml").read_text("utf-8"))
    flat: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: dict[str, object]) -> None:
        if set(node) <= set(LANGUAGES) and node:
            flat[prefix] = {k: str(v) for k, v in node.items()}
            return
        for key, value in node.items():
            if isinstance(value, dict):
                walk(f"{prefix}.{key}" if prefix else key, value)

    walk("", raw)
    return flat


def text(key: str, language: Language | None = None, /, **params: object) -> str:
    """The message for `key` in the chosen language, with `params` filled in."""
    entry = catalogue().get(key)
    if entry is None:
        return key if not params else f"{key} {params}"
    template = entry.get(language or _language) or entry["en"]
    try:
        return template.format(**{k: readable(v) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):
        return template


def readable(value: object) -> object:
    """A value as people read it: moments in Oslo local time, to the minute."""
    if isinstance(value, datetime):
        return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M")
    return value


class Term:
    """A word from the catalogue used inside another message, rendered when it is read."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __str__(self) -> str:
        return text(self.key)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"Term({self.key!r})"
