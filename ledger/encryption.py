"""Sealing personal fields with the case's key, and opening them again (AES-256-GCM).

The store writes each event as its public JSON with every personal field
(`ledger/events/personal.py`) replaced by `{"enc": "<base64 of nonce ‖ ciphertext>"}`: the
field's JSON value encrypted under the case's key, with the case id, event id and field name
as associated data, so a sealed value moved to another field, event or case does not open.
Those are the bytes stored and hashed into the chain. Reading opens them back into the model;
once the case's key is destroyed they read as ERASED ("[slettet]").

Projection rows hold a personal value as `enc1:<base64>` text under the same key.

A value stored in clear (a ledger written before encryption, or a benchmark's bulk load)
still reads: only `{"enc": …}` values are opened.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.events import EVENT_TYPES, CaseEvent, Event, UndringRegistered, event_to_json
from ledger.events.personal import ERASED, PERSONAL_NAMES, personal_fields
from ledger.keys import NONCE_BYTES, CaseErased, CaseKeys
from ledger.policies.identity import IdentityNumberInvalid, lookup_key, parse_identity_number

SEALED_MARK = b'{"enc":'
PROJECTION_PREFIX = "enc1:"
_AAD_PREFIX = b"bti field v1\x00"


def _aad(case_id: UUID, event_id: UUID | None, name: str) -> bytes:
    event = event_id.bytes if event_id is not None else bytes(16)
    return _AAD_PREFIX + case_id.bytes + event + name.encode("utf-8")


def _place(case_id: Any, event_id: Any) -> bytes:
    """`_aad` without the field name, from the stored ids (canonical text, read fast)."""
    try:
        ids = bytes.fromhex(str(case_id).replace("-", "") + str(event_id).replace("-", ""))
    except ValueError:
        ids = b""
    if len(ids) != 32:  # not two ids in their canonical text: let UUID read (or refuse) them
        ids = UUID(str(case_id)).bytes + UUID(str(event_id)).bytes
    return _AAD_PREFIX + ids


def _seal(key: AESGCM, aad: bytes, value: Any, nonce_secret: bytes | None = None) -> str:
    # A random nonce; or, for projection rows, one derived from the place and the value, so
    # a rebuild writes the same bytes (the same nonce only ever seals the same plaintext).
    nonce = (
        os.urandom(NONCE_BYTES) if nonce_secret is None
        else hmac.new(nonce_secret, aad + orjson.dumps(value), hashlib.sha256).digest()[:NONCE_BYTES]
    )
    sealed = nonce + key.encrypt(nonce, orjson.dumps(value), aad)
    return base64.b64encode(sealed).decode("ascii")


def _open(key: AESGCM | None, aad: bytes, token: str) -> Any:
    if key is None:
        return ERASED
    try:
        raw = binascii.a2b_base64(token, strict_mode=True)
        return orjson.loads(key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad))
    except (binascii.Error, ValueError, InvalidTag, orjson.JSONDecodeError):
        # Not sealed under this case's key for this place: never show it, never fail a read.
        return ERASED


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("enc"), str)


def carries_personal_data(event: Event) -> bool:
    """Does this event have a personal field to seal (so its case needs a key)?"""
    return isinstance(event, CaseEvent) and any(
        getattr(event, name, None) is not None for name in personal_fields(type(event))
    )


class Sealer:
    """Seals and opens the personal fields of one ledger's events and projection rows."""

    def __init__(self, keys: CaseKeys) -> None:
        self.keys = keys

    # ---- events ------------------------------------------------------------------------

    def seal_event(self, event: Event) -> bytes:
        """The bytes to store: the public JSON with its personal fields sealed."""
        names = personal_fields(type(event))
        if not names or not isinstance(event, CaseEvent):
            return event_to_json(event)
        data = event.model_dump(mode="json")  # event_to_json's shape, before it is dumped
        present = [n for n in names if data.get(n) is not None]
        if not present:
            return orjson.dumps(data)
        key = self.keys.for_sealing(event.case_id, event.recorded_at)
        for name in present:
            if name == "fields":
                data[name] = {
                    k: {"enc": _seal(key, _aad(event.case_id, event.event_id, f"fields.{k}"), v)}
                    if k in PERSONAL_NAMES and v is not None else v
                    for k, v in data[name].items()
                }
            else:
                aad = _aad(event.case_id, event.event_id, name)
                data[name] = {"enc": _seal(key, aad, data[name])}
        if isinstance(event, UndringRegistered) and event.national_id is not None:
            self.index_identity(event.national_id, event.case_id)
        return orjson.dumps(data)

    def open_event(self, topic: str, state: bytes, stream_id: UUID | None = None) -> Event:
        """One stored row back to its model, personal fields opened (or ERASED).

        `stream_id`: the row's stream (its case), when the caller has it as a UUID already.
        """
        cls = EVENT_TYPES[topic]
        if SEALED_MARK not in state:
            return cls.model_validate_json(state)
        data = orjson.loads(state)
        # Replay opens every sealed field of the ledger: the associated data's prefix is
        # built once per event, and the key is looked up only once a field needs it.
        place = _place(data["case_id"], data["event_id"])
        case_id: UUID | None = None
        key: AESGCM | None = None
        if stream_id is not None:
            # The key is looked up by the stream; the associated data still comes from the
            # row's own case_id, so a row under the wrong stream does not open.
            case_id, key = stream_id, self.keys.for_opening(stream_id)
        for name in personal_fields(cls):
            value = data.get(name)
            if name == "fields" and isinstance(value, dict):
                for k, v in value.items():
                    if _is_sealed(v):
                        if case_id is None:
                            case_id = UUID(str(data["case_id"]))
                            key = self.keys.for_opening(case_id)
                        value[k] = _open(key, place + b"fields." + k.encode("utf-8"), v["enc"])
            elif _is_sealed(value):
                if case_id is None:
                    case_id = UUID(str(data["case_id"]))
                    key = self.keys.for_opening(case_id)
                data[name] = _open(key, place + name.encode("utf-8"), value["enc"])
        return cls.model_validate(data)

    # ---- projection rows ---------------------------------------------------------------

    def seal_text(
        self, case_id: UUID, purpose: str, value: str, at: datetime, cursor: Any | None = None
    ) -> str:
        """A personal value for a projection row: sealed, or ERASED if the case was erased.

        `cursor`: the projection's own, so the key is read (or made) in its transaction.
        """
        try:
            key = self.keys.for_sealing(case_id, at, cursor)
        except CaseErased:
            return ERASED
        aad = _aad(case_id, None, purpose)
        return PROJECTION_PREFIX + _seal(key, aad, value, self.keys.projection_nonce_secret())

    def open_text(self, case_id: UUID, purpose: str, value: str) -> str:
        """A projection row's personal value opened (a clear value is returned as it is)."""
        if not value.startswith(PROJECTION_PREFIX):
            return value
        opened = _open(
            self.keys.for_opening(case_id), _aad(case_id, None, purpose),
            value[len(PROJECTION_PREFIX):],
        )
        return opened if isinstance(opened, str) else ERASED

    # ---- the identity number -----------------------------------------------------------

    def identity_lookup_key(self, number: str) -> str:
        """The keyed hash of a valid identity number (raises IdentityNumberInvalid)."""
        return lookup_key(parse_identity_number(number), self.keys.lookup_secret())

    def index_identity(self, number: str, case_id: UUID) -> None:
        try:
            found = self.identity_lookup_key(number)
        except IdentityNumberInvalid:
            return  # the rules refuse such a number before it is stored
        self.keys.index_identity(found, case_id)

