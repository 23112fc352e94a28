"""Signed checkpoints of the ledger's head, and the Ed25519 keys that sign them.

A checkpoint says: "after N events this ledger's hash was H", signed with the
municipality's private key. Handed to tilsyn, it lets tilsyn later prove, with nothing but
the ledger and the public key, that today's ledger still extends it: recomputing the chain
from the stored events must give H after N events. A ledger rewritten or shortened since
cannot, unless the private key signs a new checkpoint — which tilsyn holds the old one
against. How it is done in practice: docs/tilsyn.md.

The file is JSON (`FORMAT`): the signed fields and the signature over their canonical bytes
(`signed_bytes`: the fields without `signature`, keys sorted, no spaces).
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import LedgerError
from ledger.store import EventStoreApplication
from replay.verify import CheckpointClaim, Progress, Verification, verify

FORMAT = "bti-checkpoint/1"


class AuditError(LedgerError):
    """A key or checkpoint cannot be made or used (file exists, wrong key, bad file …)."""

    kind = "audit.error"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the ledger's head."""

    format: str
    events: int
    """How many events the ledger held."""
    last_position: int
    head: str
    """The ledger hash after those events (hex)."""
    first: str
    """The ledger hash of the first event (hex): which ledger this is."""
    created_at: str
    key_id: str
    """The SHA-256 of the raw public key (hex): which key signed it."""
    signature: str = ""
    """Ed25519 signature of `signed_bytes()`, base64."""

    def signed_bytes(self) -> bytes:
        values = asdict(self)
        del values["signature"]
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)

    def claim(self) -> CheckpointClaim:
        return CheckpointClaim(self.events, bytes.fromhex(self.head))


@dataclass(frozen=True)
class CheckpointCheck:
    """The answer to "does today's ledger still extend this checkpoint?"."""

    checkpoint: Checkpoint
    signature_valid: bool
    same_ledger: bool
    verification: Verification

    @property
    def ok(self) -> bool:
        return (
            self.signature_valid
            and self.same_ledger
            and self.verification.ok
            and self.checkpoint.claim() in self.verification.checkpoints_matched
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "signature_valid": self.signature_valid,
            "same_ledger": self.same_ledger,
            "checkpoint": asdict(self.checkpoint),
            "verification": self.verification.as_dict(),
        }


# ---- keys ----------------------------------------------------------------------------


def write_private(path: Path, data: bytes) -> None:
    """Create `path` readable by its owner only (0600) and write `data`; never overwrite."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditError("file_exists", path=path) from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
    finally:
        os.close(fd)


def generate_keys(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair (PEM): the private key 0600, the public one 0644.

    Returns the key id (SHA-256 of the raw public key, hex).
    """
    if public_path.exists():
        raise AuditError("file_exists", path=public_path)
    key = Ed25519PrivateKey.generate()
    write_private(
        private_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    public = key.public_key()
    public_path.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    public_path.chmod(0o644)
    return key_id(public)


def key_id(public: Ed25519PublicKey) -> str:
    """The SHA-256 of the raw 32-byte public key, hex: short enough to read over the phone."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The signing key from its file; refused if others than its owner can read the file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise AuditError("not_a_private_key", path=path) from None
    if mode & 0o077:
        raise AuditError("key_readable_by_others", path=path, mode=oct(stat.S_IMODE(mode)))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise AuditError("not_a_private_key", path=path) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError("not_a_private_key", path=path)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (ValueError, TypeError):
        raise AuditError("not_a_public_key", path=path) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError("not_a_public_key", path=path)
    return key


# ---- checkpoints ---------------------------------------------------------------------


def create_checkpoint(
    store: EventStoreApplication,
    private_key: Ed25519PrivateKey,
    now: datetime,
    progress: Progress | None = None,
    total: Any = None,
) -> tuple[Checkpoint, Verification]:
    """Verify the ledger and sign its head. A broken chain is refused, never signed."""
    result = verify(store, progress=progress, total=total)
    if not result.ok:
        problem = result.first_problem
        assert problem is not None  # not ok means there is one
        raise AuditError("chain_broken_no_checkpoint", position=problem.position)
    unsigned = Checkpoint(
        format=FORMAT,
        events=result.events,
        last_position=result.last_position,
        head=result.head.hex(),
        first=(result.first or result.head).hex(),
        created_at=now.isoformat(),
        key_id=key_id(private_key.public_key()),
    )
    signature = base64.b64encode(private_key.sign(unsigned.signed_bytes())).decode("ascii")
    return Checkpoint(**{**asdict(unsigned), "signature": signature}), result


def write_checkpoint(checkpoint: Checkpoint, path: Path) -> None:
    """Write the checkpoint as indented JSON, readable by its owner only (0600)."""
    write_private(path, orjson.dumps(asdict(checkpoint), option=orjson.OPT_INDENT_2) + b"\n")


def read_checkpoint(path: Path) -> Checkpoint:
    """A checkpoint file, or `not_a_checkpoint` naming the file."""
    try:
        values = orjson.loads(path.read_bytes())
        checkpoint = Checkpoint(**values)
        bytes.fromhex(checkpoint.head)
        bytes.fromhex(checkpoint.first)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        raise AuditError("not_a_checkpoint", path=path) from None
    if checkpoint.format != FORMAT or checkpoint.events < 0:
        raise AuditError("not_a_checkpoint", path=path)
    return checkpoint


def signature_valid(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    """Whether `public_key` signed exactly these fields."""
    try:
        public_key.verify(base64.b64decode(checkpoint.signature), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True


def check_checkpoint(
    store: EventStoreApplication,
    checkpoint: Checkpoint,
    public_key: Ed25519PublicKey,
    progress: Progress | None = None,
    total: Any = None,
) -> CheckpointCheck:
    """Does today's ledger still extend `checkpoint`? Verifies the signature and the chain."""
    valid = signature_valid(checkpoint, public_key)
    result = verify(store, checkpoints=[checkpoint.claim()], progress=progress, total=total)
    same = checkpoint.events == 0 or (
        result.first is not None and result.first.hex() == checkpoint.first
    )
    return CheckpointCheck(checkpoint, valid, same, result)
