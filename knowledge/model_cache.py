"""On-disk cache of the trained understanding models.

Training takes seconds at every start (``bvte ask``, each worker, each test
subprocess) and its result depends only on the training examples, the class lists
and the code that turns text into features. The cache key is a hash of all three,
so a changed knowledge base, training file or feature code retrains by itself.

The file is JSON (weights are plain ``str -> float`` maps): loading it runs no
code, and a missing, stale or damaged file only means training again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["default_cache_dir", "fingerprint", "load", "save"]

log = logging.getLogger("bvte.knowledge")

FORMAT = 1
# Older files beyond this many are removed on save (each code change writes a new one).
KEEP = 4
_CODE_DIR = Path(__file__).resolve().parent


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/bvte`` (``~/.cache/bvte`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bvte"


def fingerprint(rows: Iterable[Sequence[str | None]], *class_lists: Sequence[str]) -> str:
    """Hash of the training rows, the classes and the knowledge package's code."""
    digest = hashlib.sha256(f"bvte-models-{FORMAT}".encode())
    for source in sorted(_CODE_DIR.glob("*.py")):
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    for classes in class_lists:
        digest.update(json.dumps(list(classes)).encode())
    for row in rows:
        digest.update(json.dumps(list(row), ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _path(cache_dir: Path, key: str) -> Path:
    return cache_dir / f"models-{key[:32]}.json"


def load(cache_dir: Path, key: str) -> dict[str, Any] | None:
    try:
        with _path(cache_dir, key).open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("model cache unreadable, training again: %s", type(exc).__name__)
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data


def save(cache_dir: Path, key: str, payload: dict[str, Any]) -> None:
    """Write atomically (temp file + rename): concurrent starts never read half a file."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".models-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({**payload, "key": key}, handle, separators=(",", ":"))
            os.replace(tmp, _path(cache_dir, key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        old = sorted(cache_dir.glob("models-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[KEEP:]:
            stale.unlink(missing_ok=True)
    except OSError as exc:
        # A read-only home or a full disk costs start-up time, nothing else.
        log.info("model cache not written (%s): %s", cache_dir, exc)
