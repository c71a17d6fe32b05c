"""Sealing of the jackpot table's secrets (win targets, thresholds, delays, cycle seeds).

The table value and its changelog topic are read by more people and processes than should know
when a jackpot will drop, so those fields travel as one AES-GCM blob: a random 96-bit nonce per
write, the jackpot id as associated data (a blob copied into another jackpot's value does not
open), and a key id in front so keys can rotate: values are sealed with ``JACKPOT_STATE_KEY``
and opened with it or any key of ``JACKPOT_STATE_OLD_KEYS``.  A blob that does not open is an
error, never an empty set of secrets: a jackpot with zero targets would drop on its next bet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
DEV_KEY_FILE = "jackpot-state.key"


class SealingError(RuntimeError):
    """A sealed value that cannot be opened (wrong or unknown key, tampered or moved blob), or no key."""


def parse_key(text: str) -> bytes:
    """A key as configured: base64 of 32 bytes."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SealingError("a state key must be base64 of 32 bytes (not base64)") from None
    if len(key) != KEY_BYTES:
        raise SealingError(f"a state key must be base64 of 32 bytes (got {len(key)} bytes)")
    return key


def key_id(key: bytes) -> str:
    """A short public name of a key, stored with each blob so the right key is picked on read."""
    return hashlib.sha256(b"jackpot-state-key\x00" + key).hexdigest()[:12]


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


class Sealer:
    """Seals with the current key; opens with the current or an old one, chosen by key id."""

    def __init__(self, current: bytes, old: list[bytes] | tuple[bytes, ...] = ()) -> None:
        self.kid = key_id(current)
        self._current = AESGCM(current)
        self._keys = {key_id(k): AESGCM(k) for k in old}
        self._keys[self.kid] = self._current

    def seal(self, plaintext: bytes, associated: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        blob = nonce + self._current.encrypt(nonce, plaintext, associated)
        return f"{self.kid}.{base64.b64encode(blob).decode()}"

    def open(self, sealed: str, associated: bytes) -> bytes:
        kid, _, body = sealed.partition(".")
        aead = self._keys.get(kid)
        if aead is None:
            raise SealingError(f"sealed with key {kid!r}, which is neither JACKPOT_STATE_KEY ({self.kid!r}) "
                               f"nor one of JACKPOT_STATE_OLD_KEYS")
        try:
            blob = base64.b64decode(body, validate=True)
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
        except (InvalidTag, binascii.Error, ValueError):
            raise SealingError(f"sealed secrets do not open with key {kid!r}: tampered, or moved "
                               f"from another jackpot") from None


def dev_key(stack_dir: Path) -> str:
    """The development key: generated once into the stack directory (mode 0600) and reused, so
    every local worker and test process agrees.  Created complete or not at all (a hard link of
    a written temporary file), so two processes starting together read the same key."""
    path = Path(stack_dir) / DEV_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{DEV_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(new_key() + "\n")
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def load_sealer(settings) -> Sealer:
    """The sealer the settings call for; production refuses to run without a configured key."""
    text = settings.state_key
    if not text:
        if settings.production:
            raise SealingError("JACKPOT_STATE_KEY is required in production (base64 of 32 random bytes: "
                               "python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')")
        text = dev_key(settings.stack_dir)
        log.warning("JACKPOT_STATE_KEY is not set: table secrets are sealed with the development key "
                    "in %s (production refuses to start without a key)", settings.stack_dir / DEV_KEY_FILE)
    old = [parse_key(k) for k in settings.state_old_keys.split(",") if k.strip()]
    return Sealer(parse_key(text), old)
