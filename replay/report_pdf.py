"""The tilsyn report as a PDF: the same contents as the HTML page, laid out with reportlab.

Bitstream Vera (shipped inside reportlab) is embedded, so æ, ø, å, §, « » and the dashes
print and copy as text on any reader; every page carries the case and its page number.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, BinaryIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from replay.report import (
    CaseReport,
    checkpoint_sentence,
    deadline_outcome,
    verification_sentence,
)
from replay.timeline import Entry, when

INK = colors.HexColor("#1d1d1b")
MUTED = colors.HexColor("#5b5b57")
RULE = colors.HexColor("#c9c7bf")
SOFT = colors.HexColor("#f3f2ee")
OK = colors.HexColor("#1e6b35")
BAD = colors.HexColor("#a11d1d")
STATE_COLOURS = {"met": OK, "missed": BAD, "met_late": BAD, "open": MUTED, "cancelled": MUTED}
WIDTH = A4[0] - 30 * mm


def _fonts() -> tuple[str, str]:
    """Register Vera (regular, bold) once; fall back to Helvetica if it is missing."""
    if "Vera" in pdfmetrics.getRegisteredFontNames():
        return "Vera", "VeraBd"
    try:
        folder = resources.files("reportlab").joinpath("fonts")
        pdfmetrics.registerFont(TTFont("Vera", str(folder.joinpath("Vera.ttf"))))
        pdfmetrics.registerFont(TTFont("VeraBd", str(folder.joinpath("VeraBd.ttf"))))
    except Exception:  # a reportlab without its fonts: the standard ones cover Latin-1
        return "Helvetica", "Helvetica-Bold"
    return "Vera", "VeraBd"


class _Styles:
    def __init__(self) -> None:
        regular, bold = _fonts()
        self.regular, self.bold = regular, bold
        base = ParagraphStyle("base", fontName=regular, fontSize=9, leading=11.5,
                              textColor=INK, alignment=TA_LEFT)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=7.8, leading=9.8,
                                    textColor=MUTED)
        self.cell = ParagraphStyle("cell", parent=base, fontSize=8.2, leading=10.2)
        self.cell_bold = ParagraphStyle("cellb", parent=self.cell, fontName=bold)
        self.title = ParagraphStyle("title", parent=base, fontName=bold, fontSize=17,
                                    leading=21, spaceAfter=2)
        # A heading never ends a page: it goes with what follows it.
        self.h2 = ParagraphStyle("h2", parent=base, fontName=bold, fontSize=12.5, leading=15,
                                 spaceBefore=10, spaceAfter=4, keepWithNext=1)
        self.h3 = ParagraphStyle("h3", parent=base, fontName=bold, fontSize=10, leading=12.5,
                                 spaceBefore=6, spaceAfter=1, keepWithNext=1)
        self.mono = ParagraphStyle("mono", parent=base, fontName="Courier", fontSize=7.5,
                                   leading=9.5)


def p(value: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(value)).replace("\n", "<br/>"), style)


def _table(rows: list[list[Any]], widths: list[float], s: _Styles) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), s.bold),
        ("BACKGROUND", (0, 0), (-1, 0), SOFT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]))
    return table


def _box(sentence: str, ok: bool | None, s: _Styles) -> Table:
    colour = MUTED if ok is None else (OK if ok else BAD)
    box = Table([[p(sentence, s.body)]], colWidths=[WIDTH])
    box.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), SOFT),
        ("LINEBEFORE", (0, 0), (0, -1), 4, colour),
        ("BOX", (0, 0), (-1, -1), 0.4, RULE),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
    ]))
    return box


def pdf_document(report: CaseReport, target: BinaryIO) -> None:
    """Lay out `report` on A4 pages into `target`."""
    s = _Styles()
    labels, t = report.labels, report.timeline
    story: list[Any] = [
        *_header(report, s), *_verification(report, s), *_duties(report, s),
        *_deadlines(report, s), *_consents(report, s), *_timeline(report, s),
    ]
    footer = f"{labels['footer']} · {labels['child']} {t.child_ref} · {t.case_id}"

    def on_page(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(s.regular, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(15 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"{labels['page']} {document.page}")
        canvas.restoreState()

    document = SimpleDocTemplate(
        target, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=18 * mm, title=f"{labels['title']} – {t.child_ref}",
        author="bti-ledger", subject=str(t.case_id),
        creator="bti-ledger", producer="bti-ledger (reportlab)",
    )
    document.build(story, onFirstPage=on_page, onLaterPages=on_page)


def _header(report: CaseReport, s: _Styles) -> list[Any]:
    labels, t = report.labels, report.timeline
    facts = [
        (labels["child"], t.child_ref), (labels["case"], str(t.case_id)),
        (labels["unit"], f"{t.unit} ({t.service})"),
        (labels["status"], f"{labels[t.status + '_status']}, {labels['level']} {t.level}"),
        (labels["holder"], t.holder or "–"), (labels["rulebook"], t.rulebook),
        (labels["produced"], when(report.produced_at)),
    ]
    table = Table([[p(k, s.cell_bold), p(v, s.cell)] for k, v in facts],
                  colWidths=[38 * mm, WIDTH - 38 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return [p(labels["title"], s.title), p(labels["subtitle"], s.small), Spacer(1, 4 * mm),
            table]


def _verification(report: CaseReport, s: _Styles) -> list[Any]:
    labels, check = report.labels, report.checkpoint
    return [
        p(f"1. {labels['verification']}", s.h2),
        _box(verification_sentence(report), report.verification.ok, s),
        Spacer(1, 2 * mm),
        _box(checkpoint_sentence(report), None if check is None else check.ok, s),
        Spacer(1, 2 * mm),
        p(f"{labels['case_head']}:", s.small), p(report.case_head or "–", s.mono),
        p(f"{labels['ledger_head']}:", s.small), p(report.verification.head.hex(), s.mono),
        Spacer(1, 1.5 * mm),
        p(labels["verify_how"], s.small),
    ]


def _duties(report: CaseReport, s: _Styles) -> list[Any]:
    labels = report.labels
    story: list[Any] = [p(f"2. {labels['duties']}", s.h2)]
    for duty in report.duties:
        block: list[Any] = [p(duty.title, s.h3), p(duty.explanation, s.small)]
        if duty.entries:
            rows = [[p("#", s.cell_bold), p(labels["occurred"], s.cell_bold),
                     p(labels["what"], s.cell_bold), p(labels["who"], s.cell_bold)]]
            rows += [[p(e.sequence, s.cell), p(when(e.occurred_at), s.cell), p(e.label, s.cell),
                      p(f"{e.who.person} ({e.who.service})", s.cell)] for e in duty.entries]
            block.append(_table(rows, [10 * mm, 31 * mm, 72 * mm, WIDTH - 113 * mm], s))
        else:
            block.append(p(labels["no_events"],
                           ParagraphStyle("gap", parent=s.cell, textColor=BAD)))
        story.append(KeepTogether(block))
    return story


def _deadlines(report: CaseReport, s: _Styles) -> list[Any]:
    labels = report.labels
    rows = [[p(labels[k], s.cell_bold) for k in ("rule", "basis", "due_at", "state", "met_by")]]
    for index, d in enumerate(report.timeline.deadlines, start=1):
        state_style = ParagraphStyle(f"st{index}", parent=s.cell_bold,
                                     textColor=STATE_COLOURS.get(d.state, INK))
        rows.append([
            p(d.label, s.cell), p(f"#{d.basis_sequence} · {when(d.basis_at)}", s.cell),
            p(when(d.due_at), s.cell), p(d.state_label, state_style),
            p(deadline_outcome(report, d), s.cell),
        ])
    return [p(f"3. {labels['deadlines']}", s.h2),
            _table(rows, [44 * mm, 35 * mm, 29 * mm, 22 * mm, WIDTH - 130 * mm], s)]


def _consents(report: CaseReport, s: _Styles) -> list[Any]:
    labels = report.labels
    story: list[Any] = [p(f"4. {labels['consents']}", s.h2)]
    if report.consents:
        rows = [[p(labels[k], s.cell_bold) for k in ("sequence", "occurred", "what", "party",
                                                      "services", "valid_until", "purpose")]]
        rows += [[p(c.sequence, s.cell), p(when(c.occurred_at), s.cell), p(c.label, s.cell),
                  p(c.party, s.cell), p(c.services, s.cell), p(c.valid_until, s.cell),
                  p(c.purpose, s.cell)] for c in report.consents]
        story.append(_table(rows, [9 * mm, 28 * mm, 26 * mm, 20 * mm, 27 * mm, 19 * mm,
                                   WIDTH - 129 * mm], s))
    else:
        story.append(p(labels["no_consents"], s.small))
    story.append(p(labels["access"], s.h3))
    rows = [[p(labels[k], s.cell_bold) for k in ("principal", "grounds", "from", "to")]]
    for a in report.access:
        end = labels["still"] if a.end is None else f"{when(a.end)}\n{a.end_reason}"
        rights = labels["writes"] if a.writes else labels["reads_only"]
        rows.append([p(f"{a.principal}\n{rights}", s.cell), p(a.basis, s.cell),
                     p(when(a.start), s.cell), p(end, s.cell)])
    story.append(_table(rows, [58 * mm, 48 * mm, 30 * mm, WIDTH - 136 * mm], s))
    return story


def _notes(report: CaseReport, e: Entry) -> list[str]:
    labels = report.labels
    notes = []
    if e.corrected_by:
        notes.append(f"{labels['corrected_by']} " + ", ".join(f"#{n}" for n in e.corrected_by))
    if e.corrects:
        notes.append(f"{labels['corrects']} #{e.corrects}")
    if e.deliveries:
        notes.append(f"{labels['deliveries']} " + ", ".join(f"#{n}" for n in e.deliveries))
    if e.reminder_of:
        notes.append(f"{labels['delivers']} #{e.reminder_of}")
    for m in e.meets:
        notes.append(f"{labels['meets_late'] if m.late else labels['meets']}: {m.label} "
                     f"({labels['due']} {when(m.due_at)})")
    return notes


def _timeline(report: CaseReport, s: _Styles) -> list[Any]:
    labels = report.labels
    rows: list[list[Any]] = [[
        p("#", s.cell_bold), p(f"{labels['occurred']}\n{labels['recorded']}", s.cell_bold),
        p(labels["what"], s.cell_bold), p(labels["who"], s.cell_bold),
    ]]
    for e in report.timeline.entries:
        what = [p(e.label, s.cell_bold), p(e.summary, s.cell),
                *(p(n, s.small) for n in _notes(report, e))]
        rows.append([
            p(e.sequence, s.cell),
            [p(when(e.occurred_at), s.cell), p(when(e.recorded_at), s.small)],
            what,
            [p(e.who.person, s.cell), p(f"{e.who.role}, {e.who.service}, {e.who.unit}", s.small)],
        ])
    return [p(f"5. {labels['timeline']}", s.h2),
            _table(rows, [9 * mm, 29 * mm, WIDTH - 83 * mm, 45 * mm], s)]


__all__ = ["pdf_document"]
