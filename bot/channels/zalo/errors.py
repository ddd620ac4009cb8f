"""Exceptions raised by the Zalo Bot API client.

Names follow python-zalo-bot (`ZaloError` and its subclasses) so code written
against the SDK catches the same types. Messages never contain the bot token:
the client scrubs it before building any of these.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidToken",
    "NetworkError",
    "RetryAfter",
    "TimedOut",
    "ZaloError",
]


class ZaloError(Exception):
    """Base class: the API answered `ok: false` or the call could not complete.

    `error_code` is the API's code (coerced to int when the API sends a string),
    falling back to the HTTP status; `http_status` is None for transport errors.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        error_code: int | None = None,
        http_status: int | None = None,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.error_code = error_code
        self.http_status = http_status
        self.description = description if description is not None else message


class InvalidToken(ZaloError):
    """401, or 404 on a call that only fails that way when the token is wrong."""


class BadRequest(ZaloError):
    """400: bad parameters or unknown method name."""


class Forbidden(ZaloError):
    """403 (documented by Zalo, confusingly, as "Internal server error")."""


class Conflict(ZaloError):
    """409: e.g. polling while a webhook is set."""


class NetworkError(ZaloError):
    """Transport failure, 5xx, or any other unexpected status."""


class TimedOut(NetworkError):
    """The request timed out (client side, or HTTP/API 408 outside getUpdates)."""


class RetryAfter(ZaloError):
    """429 quota exceeded. `retry_after` (seconds) only when the API gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
