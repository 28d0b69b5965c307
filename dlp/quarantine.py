"""The quarantine: transfers held, not forwarded, until an admin releases or rejects them or
they expire.

Each item is two files under ``<data-dir>/quarantine/``: ``<id>.bin``, the full content (HTTP
request line, headers and body as sent; or the whole mail with its envelope) encrypted with
AES-256-GCM, and ``<id>.json``, its metadata (no personal data beyond what the incident has).
Both are written atomically (temp file, fsync, rename; content first, so an item exists only
once it is complete). The key lives in ``<data-dir>/quarantine.key`` (0600, created on first
use) unless ``quarantine.key_file`` says otherwise; the file holds ``id:base64key`` lines, the
last one current, and each item records its key id so keys can rotate. Rejecting or expiring
an item deletes its content (crypto-shred: without the ciphertext nothing can be recovered).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

STATES = ("held", "released", "rejected", "expired")


class QuarantineError(Exception):
    """An item cannot be stored, found or changed; the message says why."""


@dataclass
class Held:
    """What is stored of a transfer: ``envelope`` (request line and headers, or the mail
    envelope) and ``payload`` (the body exactly as sent, or the RFC 5322 message)."""

    envelope: dict[str, Any]
    payload: bytes


@dataclass
class Item:
    id: str
    time: str
    protocol: str
    rules: list[str]
    user: str | None
    persons: int
    size: int
    state: str = "held"
    destination: dict[str, Any] = field(default_factory=dict)
    payload_sha256: str = ""
    key_id: str = ""
    held_at: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("key_id",)}


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Keyring:
    """AES-256 keys by id; the last line of the key file is the current key."""

    def __init__(self, path: Path):
        self.path = path

    def _load(self) -> list[tuple[str, bytes]]:
        try:
            lines = self.path.read_text().split()
        except FileNotFoundError:
            return []
        keys = []
        for line in lines:
            kid, _, b64 = line.partition(":")
            keys.append((kid, base64.b64decode(b64)))
        return keys

    def current(self) -> tuple[str, bytes]:
        keys = self._load()
        if keys:
            return keys[-1]
        kid, key = f"k{int(time.time())}", AESGCM.generate_key(bit_length=256)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, f"{kid}:{base64.b64encode(key).decode()}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return kid, key

    def get(self, kid: str) -> bytes:
        for k, key in self._load():
            if k == kid:
                return key
        raise QuarantineError(f"quarantine key {kid!r} not found in {self.path}")


class Quarantine:
    def __init__(self, data_dir: Path, key_file: str | None = None, retention: float = 30 * 86400):
        self.dir = Path(data_dir) / "quarantine"
        self.keys = Keyring(Path(key_file) if key_file else Path(data_dir) / "quarantine.key")
        self.retention = retention

    def _paths(self, item_id: str) -> tuple[Path, Path]:
        if not item_id or any(c not in "0123456789ABCDEFGHJKMNPQRSTVWXYZ" for c in item_id):
            raise QuarantineError(f"not a quarantine id: {item_id!r}")
        return self.dir / f"{item_id}.bin", self.dir / f"{item_id}.json"

    def hold(self, item: Item, held: Held) -> None:
        """Store a transfer encrypted; raise OSError (full disk, read-only dir) on failure."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        kid, key = self.keys.current()
        header = json.dumps(held.envelope, ensure_ascii=False).encode()
        plain = struct.pack(">I", len(header)) + header + held.payload
        nonce = os.urandom(12)
        blob = nonce + AESGCM(key).encrypt(nonce, plain, item.id.encode())
        item.key_id, item.held_at = kid, time.time()
        bin_path, meta_path = self._paths(item.id)
        _write_atomic(bin_path, blob)
        try:
            _write_atomic(meta_path, json.dumps(item.__dict__, ensure_ascii=False).encode())
        except BaseException:
            bin_path.unlink(missing_ok=True)
            raise

    def get(self, item_id: str) -> Item:
        _bin, meta = self._paths(item_id)
        try:
            return Item(**json.loads(meta.read_bytes()))
        except FileNotFoundError:
            raise QuarantineError(f"no quarantine item {item_id}") from None

    def content(self, item_id: str) -> Held:
        item = self.get(item_id)
        bin_path, _meta = self._paths(item_id)
        try:
            blob = bin_path.read_bytes()
        except FileNotFoundError:
            raise QuarantineError(f"item {item_id} is {item.state}: its content was deleted") from None
        try:
            plain = AESGCM(self.keys.get(item.key_id)).decrypt(blob[:12], blob[12:], item_id.encode())
        except InvalidTag:
            raise QuarantineError(f"item {item_id}: content fails authentication (altered, or wrong key)") from None
        (n,) = struct.unpack(">I", plain[:4])
        return Held(json.loads(plain[4:4 + n]), plain[4 + n:])

    def items(self) -> list[Item]:
        if not self.dir.exists():
            return []
        out = []
        for meta in sorted(self.dir.glob("*.json")):
            try:
                out.append(Item(**json.loads(meta.read_bytes())))
            except (OSError, ValueError, TypeError):
                continue
        return out

    def set_state(self, item_id: str, state: str, note: str, delete_content: bool) -> Item:
        item = self.get(item_id)
        if item.state != "held":
            raise QuarantineError(f"item {item_id} is already {item.state}")
        item.state = state
        item.history.append({"time": time.time(), "state": state, "note": note})
        bin_path, meta = self._paths(item_id)
        _write_atomic(meta, json.dumps(item.__dict__, ensure_ascii=False).encode())
        if delete_content:
            bin_path.unlink(missing_ok=True)
        return item

    def purge(self, now: float | None = None) -> list[str]:
        """Expire held items older than the retention; returns their ids."""
        now = time.time() if now is None else now
        expired = []
        for item in self.items():
            if item.state == "held" and now - item.held_at > self.retention:
                self.set_state(item.id, "expired", "retention elapsed", delete_content=True)
                expired.append(item.id)
        return expired

    def backlog(self) -> tuple[int, int]:
        """(held items, their bytes on disk) for the gauges."""
        n = size = 0
        for item in self.items():
            if item.state == "held":
                n += 1
                with contextlib.suppress(OSError):
                    size += self._paths(item.id)[0].stat().st_size
        return n, size
