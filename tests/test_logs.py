"""Log hygiene that is not about secrets (those are in tests/province/test_security.py)."""

from __future__ import annotations

import logging

from bot.logs import setup_logging


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_handled_429s_do_not_log_tracebacks() -> None:
    setup_logging("INFO")
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    try:
        limiter = logging.getLogger("telegram.ext.AIORateLimiter")
        try:
            raise RuntimeError("RetryAfter stand-in")
        except RuntimeError:
            limiter.exception("Rate limit hit after maximum of %d retries", 0)
            limiter.error("something else went wrong")
    finally:
        root.removeHandler(collect)
    assert [r.getMessage() for r in collect.records] == ["something else went wrong"]
