"""Field encryption and keyed pseudonyms for sensitive data (Law 91/2025/QH15).

One deployment secret (BVTE_SECRET_KEY) is stretched with HKDF into separate keys
for encryption (AES-GCM) and for pseudonyms (HMAC-SHA256), so neither use can
weaken the other."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["Cipher", "DecryptionError", "PREFIX"]

PREFIX = "enc1:"


class DecryptionError(ValueError):
    """Ciphertext was tampered with or made with another key."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"bvte-v1", info=purpose).derive(secret)


class Cipher:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._aead = AESGCM(_derive(secret, b"encrypt"))
        self._mac_key = _derive(secret, b"pseudonym")

    def encrypt(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8") or None)
        return PREFIX + base64.urlsafe_b64encode(nonce + ct).decode("ascii")

    def decrypt(self, token: str, *, context: str = "") -> str:
        if not token.startswith(PREFIX):
            raise DecryptionError("not an encrypted value")
        raw = base64.urlsafe_b64decode(token[len(PREFIX):].encode("ascii"))
        try:
            pt = self._aead.decrypt(raw[:12], raw[12:], context.encode("utf-8") or None)
        except InvalidTag:
            raise DecryptionError("cannot decrypt") from None
        return pt.decode("utf-8")

    def maybe_decrypt(self, value: str, *, context: str = "") -> str:
        return self.decrypt(value, context=context) if value.startswith(PREFIX) else value

    def pseudonym(self, *parts: str) -> str:
        """A stable keyed pseudonym (hex) of a platform identity."""
        msg = "\x1f".join(parts).encode("utf-8")
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()
