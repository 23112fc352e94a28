"""The webhook channel: an HTTP POST of the reminder's public JSON with an Idempotency-Key.

The body is the ReminderIssued event exactly as `docs/events.md` describes it (its public
JSON shape); the `Idempotency-Key` header is the reminder's event id, the same on every
attempt, so the receiver can recognise a repeat after a crash.

Any 2xx is delivered. 408, 409, 425, 429 and 5xx, time-outs and connection errors are tried
again; any other answer (a 4xx: the request itself is wrong) is permanent.
"""

from __future__ import annotations

import os

import httpx

from ledger.events import event_to_json
from ledger.reminders.channels import DeliveryError, ReminderNotice
from ledger.reminders.config import WebhookSettings

_RETRYABLE = frozenset({408, 409, 425, 429})


class WebhookChannel:
    """POSTs reminders to one URL."""

    name = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        headers = dict(settings.headers)
        headers.update({
            name: os.environ.get(variable, "") for name, variable in settings.headers_env.items()
        })
        self.client = httpx.Client(
            timeout=settings.timeout.total_seconds(), headers=headers, follow_redirects=False
        )

    def deliver(self, notice: ReminderNotice) -> None:
        try:
            response = self.client.post(
                self.settings.url,
                content=event_to_json(notice.reminder),
                headers={
                    "Content-Type": "application/json",
                    "Idempotency-Key": notice.idempotency_key,
                },
            )
        except httpx.HTTPError as error:
            raise DeliveryError(f"{type(error).__name__}: {error}") from None
        if response.is_success:
            return
        reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        permanent = response.status_code < 500 and response.status_code not in _RETRYABLE
        raise DeliveryError(reason, permanent=permanent)

    def close(self) -> None:
        self.client.close()
