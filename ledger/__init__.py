"""bti-ledger: an event-sourced case ledger for the Norwegian BTI model."""

__version__ = "0.1.0"
