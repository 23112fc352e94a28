"""Nothing is left out: every event type has an example, a section in docs/events.md, an
action, a family, a docstring and a label, and every error code the ledger raises has a
message in both languages (after httpx's `test_httpcore_all_exceptions_mapped`)."""

from __future__ import annotations

import ast
import importlib.util
import re
from collections import Counter
from functools import cache
from pathlib import Path
from types import ModuleType

import orjson
import pytest

import ledger
from ledger.application import LEDGER_ID
from ledger.events import (
    ACTIONS,
    EVENT_TYPES,
    CaseEvent,
    LedgerEvent,
    UndringRegistered,
    event_to_json,
)
from ledger.events.examples import all_examples, example
from ledger.messages import LANGUAGES, catalogue

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCE = Path(ledger.__file__).resolve().parent
TYPE_NAMES = sorted(EVENT_TYPES)


@cache
def load_generator() -> ModuleType:
    """docs/generate_events.py as a module (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("generate_events", DOCS / "generate_events.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def section_of(markdown: str, type_name: str) -> str:
    """The part of docs/events.md under `### type_name`, up to the next heading."""
    match = re.search(rf"^### {type_name}\n(.*?)(?=^##)", markdown + "\n##", re.S | re.M)
    return match.group(1) if match else ""


# ---- examples ------------------------------------------------------------------------


def test_every_event_type_has_exactly_one_example() -> None:
    kinds = Counter(type(event) for event in all_examples())
    assert kinds == Counter(EVENT_TYPES.values())


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_an_example_is_found_by_its_type_name_and_by_its_class(type_name: str) -> None:
    found = example(type_name)
    assert found is example(EVENT_TYPES[type_name])
    assert found.type == type_name


def test_there_is_no_example_of_an_unknown_event_type() -> None:
    with pytest.raises(KeyError, match="no example for event type 'UndringForgotten'"):
        example("UndringForgotten")


def test_the_examples_tell_one_case_in_order_after_the_undring() -> None:
    case_events = [e for e in all_examples() if isinstance(e, CaseEvent)]
    undring = example(UndringRegistered)
    assert {e.case_id for e in case_events} == {undring.case_id}
    assert [e.sequence for e in case_events] == list(range(1, len(case_events) + 1))
    assert all(e.occurred_at >= undring.noticed_at for e in case_events)
    assert all(e.recorded_at >= e.occurred_at for e in all_examples())
    assert all(e.occurred_at.tzinfo is not None for e in all_examples())
    ledger_events = [e for e in all_examples() if isinstance(e, LedgerEvent)]
    assert [(e.ledger_id, e.sequence) for e in ledger_events] == [(LEDGER_ID, 1)]


# ---- docs/events.md ------------------------------------------------------------------


def test_docs_events_md_is_what_the_generator_writes_now() -> None:
    written = (DOCS / "events.md").read_text("utf-8")
    assert written == load_generator().render(), (
        "docs/events.md is out of date: run `.venv/bin/python docs/generate_events.py`"
    )


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_event_type_is_in_docs_events_md_with_its_example(type_name: str) -> None:
    section = section_of((DOCS / "events.md").read_text("utf-8"), type_name)
    assert section, f"docs/events.md has no section ### {type_name}"
    pretty = orjson.dumps(
        orjson.loads(event_to_json(example(type_name))), option=orjson.OPT_INDENT_2
    ).decode()
    assert f"```json\n{pretty}\n```" in section


# ---- actions, families, docstrings ---------------------------------------------------


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_case_event_type_has_exactly_one_action(type_name: str) -> None:
    cls = EVENT_TYPES[type_name]
    actions = [action for action, recorded in ACTIONS.items() if recorded is cls]
    expected = 0 if issubclass(cls, LedgerEvent) else 1  # RulebookAdopted: by `bti init`
    assert len(actions) == expected, f"{type_name} is recorded by {actions}"


def test_every_action_records_a_known_event_type() -> None:
    assert set(ACTIONS.values()) <= set(EVENT_TYPES.values())


def test_only_rulebook_adopted_has_no_action() -> None:
    assert set(EVENT_TYPES.values()) - set(ACTIONS.values()) == {EVENT_TYPES["RulebookAdopted"]}


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_event_type_has_a_documented_family(type_name: str) -> None:
    family = EVENT_TYPES[type_name].family
    assert family in load_generator().FAMILIES, f"{type_name}.family = {family!r}"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_event_type_has_a_one_line_docstring_of_its_own(type_name: str) -> None:
    doc = (EVENT_TYPES[type_name].__dict__.get("__doc__") or "").strip()
    assert doc, f"{type_name} has no docstring"
    assert "\n" not in doc, f"{type_name}'s docstring is more than one line"


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_event_type_says_which_rules_and_deadlines_apply(type_name: str) -> None:
    rules, deadlines = load_generator().APPLIES[type_name]
    assert rules and deadlines


# ---- the message catalogue -----------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPE_NAMES)
def test_every_event_type_has_a_label_in_bokmal_and_english(type_name: str) -> None:
    entry = catalogue().get(f"label.{type_name}", {})
    missing = [language for language in LANGUAGES if not entry.get(language, "").strip()]
    assert not missing, f"label.{type_name} has no text in {', '.join(missing)}"


def _name_of(node: ast.expr) -> str | None:
    """`RuleViolation` for both `RuleViolation` and `errors.RuleViolation`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literals(node: ast.expr) -> list[str]:
    """The string literals an argument can be: `"a"`, or both of `"a" if … else "b"`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _own_kind(cls: ast.ClassDef) -> str | None:
    for statement in cls.body:
        if (
            isinstance(statement, ast.Assign)
            and [_name_of(t) for t in statement.targets] == ["kind"]
            and isinstance(statement.value, ast.Constant)
        ):
            return str(statement.value.value)
    return None


def error_kinds(trees: dict[Path, ast.Module]) -> dict[str, str]:
    """LedgerError and every class under it in ledger/, with its catalogue section (`kind`).

    Read from the source, not imported, so a module that does not import yet cannot hide
    the codes of the others.
    """
    classes = [n for tree in trees.values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    kinds: dict[str, str] = {}
    for cls in classes:
        if cls.name == "LedgerError":
            kinds[cls.name] = _own_kind(cls) or "error"
    grew = True
    while grew:
        grew = False
        for cls in classes:
            bases = [kinds[b] for b in map(_name_of, cls.bases) if b in kinds]
            if cls.name not in kinds and bases:
                kinds[cls.name] = _own_kind(cls) or bases[0]
                grew = True
    return kinds


def raised_error_codes() -> dict[str, list[str]]:
    """Every catalogue key (`error.<code>`) given as a literal to a LedgerError in ledger/,
    however the call is spread over lines, with where it is written (file:line).

    An AST walk rather than a regex over the text: it sees calls across lines, a code in a
    conditional expression, and the code an error class gives itself in
    `super().__init__("…")` (ImportRejected), and it is not fooled by comments.
    """
    trees = {
        path: ast.parse(path.read_text("utf-8"), filename=str(path))
        for path in sorted(SOURCE.rglob("*.py"))
    }
    kinds = error_kinds(trees)
    found: dict[str, list[str]] = {}
    for path, tree in trees.items():
        where = path.relative_to(ROOT)
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            if cls.name not in kinds:
                continue
            for call in (n for n in ast.walk(cls) if isinstance(n, ast.Call)):
                func = call.func
                own = (
                    isinstance(func, ast.Attribute) and func.attr == "__init__"
                    and isinstance(func.value, ast.Call) and _name_of(func.value.func) == "super"
                )
                for code in _literals(call.args[0]) if own and call.args else []:
                    found.setdefault(f"{kinds[cls.name]}.{code}", []).append(
                        f"{where}:{call.lineno}"
                    )
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = _name_of(call.func)
            if name in kinds and call.args:
                for code in _literals(call.args[0]):
                    found.setdefault(f"{kinds[name]}.{code}", []).append(f"{where}:{call.lineno}")
    return found


def test_the_error_code_scan_finds_codes_across_lines_and_in_error_classes() -> None:
    codes = raised_error_codes()
    assert "error.before_undring" in codes  # RuleViolation(\n    "before_undring", …)
    assert "error.import_rejected" in codes  # ImportRejected: super().__init__("import_rejected")
    assert "error.bad_url" in codes  # StoreUnavailable("bad_url", …)


def test_every_error_code_raised_in_the_ledger_has_a_message_in_bokmal_and_english() -> None:
    messages = catalogue()
    missing = {
        f"{key} ({language})": places
        for key, places in raised_error_codes().items()
        for language in LANGUAGES
        if not messages.get(key, {}).get(language, "").strip()
    }
    assert not missing, "messages.toml lacks: " + "; ".join(
        f"{key} raised at {', '.join(places)}" for key, places in sorted(missing.items())
    )
