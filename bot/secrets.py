"""The deployment's secret key: from BVTE_SECRET_KEY, else a generated key file.

A single-commune install on SQLite gets a working key without set-up; the key
file is created once with owner-only permissions and a warning says to move it
into the environment.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

__all__ = ["resolve_secret_key"]

log = logging.getLogger("bvte.config")


def resolve_secret_key(env_value: str | None, key_file: Path) -> bytes:
    if env_value:
        return env_value.encode("utf-8")
    if key_file.exists():
        return key_file.read_text(encoding="utf-8").strip().encode("utf-8")
    key = secrets.token_urlsafe(48)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    log.warning(
        "BVTE_SECRET_KEY is not set: generated %s. Keep it safe (it decrypts reports); "
        "in production set BVTE_SECRET_KEY instead.", key_file,
    )
    return key.encode("utf-8")
