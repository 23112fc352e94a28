"""The reminder daemon's parts, one job each; `ledger/daemon.py` puts them together.

    config.py    the daemon's TOML file: interval, delivery retries, channels
    due.py       which (deadline, stage) reminders are due at a moment (pure)
    issuing.py   records one ReminderIssued per due (deadline, stage), through the outbox
    outbox.py    the outbox table: reminders this ledger issued, and their delivery state
    channels.py  what a channel is, the notice it delivers, and the log channel
    webhook.py   the webhook channel (HTTP POST with an Idempotency-Key header)
    email.py     the e-mail channel (SMTP, plain words, nothing sensitive in the subject)
    delivery.py  delivers what the outbox holds, retries with backoff, records the outcome
    firing.py    one firer at a time: a PostgreSQL advisory lock, a lock file beside SQLite
    logs.py      structured log lines (one JSON object per line)
"""
