"""Logging set-up with a filter that scrubs secrets from every record."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

__all__ = ["SecretScrubber", "setup_logging"]


class SecretScrubber(logging.Filter):
    """Replaces each known secret (bot tokens, keys) in the formatted message."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 6 and secret not in self.secrets:
            self.secrets.append(secret)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = self.scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now so the secret can be removed from it too.
            formatter = logging.Formatter()
            record.exc_text = self.scrub(formatter.formatException(record.exc_info))
            record.exc_info = None
        if clean != message:
            record.msg, record.args = clean, None
        return True


_scrubber = SecretScrubber([])


class _HandledRateLimits(logging.Filter):
    """PTB's AIORateLimiter (max_retries=0: the outbox retries, honouring
    retry_after) logs every 429 as an error with a traceback before re-raising it;
    the dispatcher already records the retry, so the traceback is only noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Rate limit hit after maximum of")


_rate_limit_filter = _HandledRateLimits()


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> SecretScrubber:
    for secret in secrets:
        _scrubber.add(secret)
    root = logging.getLogger()
    if not any(getattr(h, "_bvte", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_scrubber)
        handler._bvte = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # httpx logs every request URL, and bot tokens live in the URL path.
    # PTB logs whole updates and API parameters at DEBUG, SQLAlchemy logs bound
    # parameters: both could carry report text, so they stay at WARNING whatever the level.
    for noisy in ("httpx", "httpcore", "telegram", "sqlalchemy", "apscheduler", "alembic",
                  "uvicorn.error", "aiosqlite"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
    if _rate_limit_filter not in limiter_log.filters:
        limiter_log.addFilter(_rate_limit_filter)
    return _scrubber
