"""The e-mail channel: a plain-text message over SMTP, in Norwegian bokmål by default.

The words come from the catalogue (`reminder.email.*` in ledger/messages.toml). The subject
says only that a deadline is near, due or passed: no child, no case content, no unit.
The body names the duty (the deadline rule in plain words), when it falls due, the level
and step the case stands at, the unit and the case's id, and nothing the case says about
the child: e-mail is not a safe place for it, and the reader opens the case in the ledger.

One message goes to every reminded person who has an address in `[email.addresses]`; a
person without one is named in the log. Nobody with an address is a permanent failure.
Its `Message-ID` is made from the reminder's id and `X-BTI-Idempotency-Key` carries the id
itself, so a message sent again after a crash is recognisably the same one.
"""

from __future__ import annotations

import os
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate

from ledger.messages import Language, text
from ledger.reminders.channels import DeliveryError, ReminderNotice
from ledger.reminders.config import EmailSettings
from ledger.reminders.logs import note

_PERMANENT_SMTP = 500


def compose(notice: ReminderNotice, sender: str, to: list[str], language: Language) -> EmailMessage:
    """The message for `notice`, in `language`."""
    reminder = notice.reminder
    late_line = ""
    if reminder.late_by_seconds is not None:
        should_have = reminder.recorded_at - timedelta(seconds=reminder.late_by_seconds)
        late_line = text("reminder.email.late_line", language, should_have=should_have)
    body = text(
        "reminder.email.body", language,
        duty=text(f"deadline.{reminder.rule}", language),
        due_at=reminder.due_at,
        stage_line=text(f"reminder.email.stage_line.{reminder.stage}", language),
        level=text(notice.level_key, language),
        step=text(notice.step_key, language),
        unit=notice.unit,
        case_id=reminder.case_id,
        late_line=late_line,
        reference=notice.idempotency_key,
    )
    message = EmailMessage()
    message["Subject"] = text(f"reminder.email.subject.{reminder.stage}", language)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = formatdate(reminder.recorded_at.timestamp(), localtime=False)
    message["Message-ID"] = f"<{notice.idempotency_key}.reminder@bti-ledger>"
    message["X-BTI-Idempotency-Key"] = notice.idempotency_key
    message.set_content(body)
    return message


class EmailChannel:
    """Sends reminders through one SMTP server."""

    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings

    def addresses(self, notice: ReminderNotice) -> list[str]:
        """The addresses of the reminded persons who have one; the others are logged."""
        known = self.settings.addresses
        missing = [person for person in notice.reminder.to if person not in known]
        if missing:
            note("email_address_missing", idempotency_key=notice.idempotency_key, persons=missing)
        return [known[person] for person in notice.reminder.to if person in known]

    def deliver(self, notice: ReminderNotice) -> None:
        to = self.addresses(notice)
        if not to:
            raise DeliveryError(
                "no e-mail address for: " + ", ".join(notice.reminder.to), permanent=True
            )
        message = compose(notice, self.settings.sender, to, self.settings.language)
        try:
            with self._connect() as smtp:
                smtp.send_message(message)
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(
                f"SMTP {error.smtp_code}: {_decoded(error.smtp_error)}",
                permanent=error.smtp_code >= _PERMANENT_SMTP,
            ) from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryError(
                f"SMTP recipients refused ({', '.join(map(str, codes))})",
                permanent=all(code >= _PERMANENT_SMTP for code in codes),
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        timeout = settings.timeout.total_seconds()
        smtp: smtplib.SMTP
        if settings.ssl:
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        try:
            if settings.starttls and not settings.ssl:
                smtp.starttls()
            if settings.username:
                password = os.environ.get(settings.password_env or "", "")
                smtp.login(settings.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        pass


def _decoded(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
