"""A fake Telegram Bot API for end-to-end tests of python-telegram-bot 22 apps.

Serves `POST /bot<token>/<method>` on 127.0.0.1 from a background thread
(`tests.fakes.server.ServerThread`), so one fake can back an in-process
`Application` (polling or webhook) as well as a `bvte run` subprocess.

Behaviour follows /work/shared/protocols/telegram-bot-api.md: errors use a
non-2xx status (PTB never looks at `ok`), `getUpdates` confirms by offset and
long-polls, HTML text is parsed into entities, and a webhook set to a
loopback URL receives pushed updates like Telegram would deliver them.

Blocking helpers (`wait_for`, `post_webhook`) must not run on the event loop
that also runs the bot under test; async tests use the `*_async` variants.
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import math
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.server import ServerThread

__all__ = ["FakeTelegramAPI", "TelegramApiError", "parse_html"]

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_ANSWER_TEXT = 200

# Parameters that are strings on the wire even when they look like JSON
# ("42", "true"); everything else in a form body is JSON text.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "emoji",
        "description",
        "short_description",
        "name",
    }
)

# Sends that Telegram rate-limits (edits and chat actions are not counted here).
_LIMITED_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})

_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_UPDATE_KINDS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "my_chat_member",
    "chat_member",
)


class TelegramApiError(Exception):
    """An error reply: HTTP status, description and optional `parameters`."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {description}")


def _u16len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# --- HTML parse_mode -------------------------------------------------------------------

_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][\w-]*)((?:\s+[\w-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*/?>"
)
_ATTR_RE = re.compile(r"([\w-]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
_HTML_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def parse_html(source: str) -> tuple[str, list[dict]]:
    """Parse Telegram's HTML subset into (plain text, entities) like the real server.

    Strict about `<` (a stray one is an error, as in Telegram), lenient about a
    bare `&`. Raises TelegramApiError(400, "Bad Request: can't parse entities: ...").
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, dict[str, Any], int]] = []
    entities: list[dict[str, Any]] = []
    i = 0

    def fail(reason: str) -> TelegramApiError:
        return _bad(f"can't parse entities: {reason}")

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    while i < len(source):
        ch = source[i]
        if ch == "<":
            m = _TAG_RE.match(source, i)
            if m is None:
                raise fail(f"Unexpected end of name token at byte offset {byte_offset(i)}")
            closing, name = m.group(1) == "/", m.group(2).lower()
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f'"</{stack[-1][0]}>"' if stack else "none"
                    raise fail(
                        f"Unmatched end tag at byte offset {byte_offset(i)}, "
                        f'expected {expected}, found "</{name}>"'
                    )
                _, entity, start = stack.pop()
                entity["offset"], entity["length"] = start, pos16 - start
                parent = stack[-1] if stack else None
                if (
                    name == "code"
                    and parent is not None
                    and parent[0] == "pre"
                    and parent[2] == start
                    and "language" in entity
                ):
                    # <pre><code class="language-x"> is one pre entity with a language.
                    parent[1]["language"] = entity["language"]
                elif entity["length"] > 0:
                    if entity["type"] == "code":
                        entity.pop("language", None)  # only <pre> keeps a language
                    entities.append(entity)
            else:
                attrs = {
                    k.lower(): html.unescape((v or "").strip("\"'"))
                    for k, v in _ATTR_RE.findall(m.group(3))
                }
                if name not in _HTML_TYPES or (
                    name == "span" and attrs.get("class") != "tg-spoiler"
                ):
                    raise fail(f'Unsupported start tag "{name}" at byte offset {byte_offset(i)}')
                entity = {"type": _HTML_TYPES[name]}
                if name == "a":
                    entity["url"] = attrs.get("href", "")
                elif name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                elif name == "code" and attrs.get("class", "").startswith("language-"):
                    entity["language"] = attrs["class"][len("language-") :]
                elif name == "tg-emoji":
                    entity["custom_emoji_id"] = attrs.get("emoji-id", "")
                stack.append((name, entity, pos16))
            i = m.end()
            continue
        if ch == "&":
            m = _ENTITY_RE.match(source, i)
            piece = html.unescape(m.group()) if m else "&"
            i = m.end() if m else i + 1
        else:
            j = i
            while j < len(source) and source[j] not in "<&":
                j += 1
            piece, i = source[i:j], j
        out.append(piece)
        pos16 += _u16len(piece)
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


# --- rate limits ----------------------------------------------------------------------


class _TokenBucket:
    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity, self.rate = capacity, rate
        self.tokens, self.stamp = capacity, time.monotonic()

    def wait(self, now: float) -> float:
        """Seconds until one token is available (0 when one is)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


class _Limits:
    """~30/s overall, ~1/s per private chat with a burst of 2, N/min per group (sliding)."""

    def __init__(
        self, rate_per_s: float, per_chat_per_s: float, group_per_min: int, private_burst: int
    ) -> None:
        # One message of slack so a client pacing itself at exactly `rate_per_s`
        # (e.g. PTB's AIORateLimiter) is not rejected for network jitter.
        self._global = _TokenBucket(rate_per_s + 1, rate_per_s)
        self._per_chat_rate = per_chat_per_s
        self._private_burst = private_burst
        self._group_per_min = group_per_min
        self._private: dict[Any, _TokenBucket] = {}
        self._groups: dict[Any, deque[float]] = defaultdict(deque)

    @staticmethod
    def is_group(chat_id: Any) -> bool:
        return isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)

    def check(self, chat_id: Any, now: float) -> float:
        """0 and the send is counted, or the seconds to wait (nothing counted)."""
        waits = [self._global.wait(now)]
        if self.is_group(chat_id):
            window = self._groups[chat_id]
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self._group_per_min:
                waits.append(window[0] + 60 - now)
        else:
            bucket = self._private.setdefault(
                chat_id, _TokenBucket(self._private_burst, self._per_chat_rate)
            )
            waits.append(bucket.wait(now))
        wait = max(waits)
        if wait > 0:
            return wait
        self._global.take()
        if self.is_group(chat_id):
            self._groups[chat_id].append(now)
        else:
            self._private[chat_id].take()
        return 0.0


# --- the fake -------------------------------------------------------------------------


class FakeTelegramAPI:
    """Fake Bot API server; see the module docstring and `tests/fakes/test_telegram_fake.py`."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        enforce_limits: bool = False,
        rate_per_s: float = 30,
        per_chat_per_s: float = 1.0,
        group_per_min: int = 20,
        private_burst: int = 2,
        max_hold: float = 1.0,
        bot_username: str = "fakebot",
        deliver_webhooks: bool = True,
    ) -> None:
        self.token = token
        self.enforce_limits = enforce_limits
        self.max_hold = max_hold
        self.deliver_webhooks = deliver_webhooks
        head = token.split(":", 1)[0]
        self.bot_user = {
            "id": int(head) if head.isdigit() else 1,
            "is_bot": True,
            "first_name": "Fake Bot",
            "username": bot_username,
        }
        self._limits = _Limits(rate_per_s, per_chat_per_s, group_per_min, private_burst)
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._update_ids = itertools.count(100)
        self._message_ids = itertools.count(1)
        self._callback_ids = itertools.count(7_000_000_001)
        self._pending: list[dict] = []
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._chats: dict[Any, dict] = {}
        self._messages: dict[tuple[Any, int], dict] = {}
        self._bot_messages: set[tuple[Any, int]] = set()
        self._last_bot_message: dict[Any, int] = {}
        self._open_callbacks: set[str] = set()
        self._commands: dict[str, list[dict]] = {}
        self._blocked: set[Any] = set()
        self._faults: dict[str, deque[TelegramApiError]] = defaultdict(deque)
        self._delays: dict[str, deque[float]] = defaultdict(deque)
        self._sent: list[dict] = []
        self._callback_answers: list[dict] = []
        self._accepted: list[tuple[float, Any]] = []
        self._deliveries: list[dict] = []
        self.count_429 = 0
        self._closing = False
        self._handlers: dict[str, tuple[str, Callable[[dict], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_file,
                "sendDocument": self._send_file,
                "answerCallbackQuery": self._answer_callback,
                "editMessageText": self._edit_text,
                "editMessageReplyMarkup": self._edit_markup,
                "sendChatAction": self._send_chat_action,
                "deleteMessage": self._delete_message,
                "setMyCommands": self._set_commands,
                "getMyCommands": self._get_commands,
                "deleteMyCommands": self._delete_commands,
                "setMyDescription": self._true,
                "setMyShortDescription": self._true,
                "setChatMenuButton": self._true,
            }.items()
        }
        self.app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])]
        )
        self._server: ServerThread | None = None
        self._delivery_thread: threading.Thread | None = None
        self.url = ""
        self.base_url = ""

    # --- lifecycle ---

    def start(self) -> FakeTelegramAPI:
        self._server = ServerThread(self.app).start()
        self.url = self._server.url
        self.base_url = f"{self.url}/bot"
        self._delivery_thread = threading.Thread(
            target=self._deliver_loop, name=f"fake-tg-webhook-{self._server.port}", daemon=True
        )
        self._delivery_thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._delivery_thread is not None:
            self._delivery_thread.join(timeout=10)
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> FakeTelegramAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection ---

    @property
    def sent(self) -> list[dict]:
        """Snapshot of every recorded call except getUpdates, oldest first.

        Each entry: {"method", <decoded params>, "status", "result", "error", "time"}.
        """
        with self._lock:
            return list(self._sent)

    def sent_messages(self, chat_id: Any = None) -> list[dict]:
        """Successful sendMessage calls, optionally for one chat."""
        return [
            e
            for e in self.sent
            if e["method"] == "sendMessage"
            and e["status"] == 200
            and (chat_id is None or e.get("chat_id") == chat_id)
        ]

    @property
    def callback_answers(self) -> list[dict]:
        """Params of every accepted answerCallbackQuery."""
        with self._lock:
            return list(self._callback_answers)

    @property
    def accepted_times(self) -> list[float]:
        """time.monotonic() of every accepted rate-limited send (even without enforce_limits)."""
        with self._lock:
            return [t for t, _ in self._accepted]

    @property
    def accepted_sends(self) -> list[tuple[float, Any]]:
        """(time.monotonic(), chat_id) of every accepted rate-limited send."""
        with self._lock:
            return list(self._accepted)

    @property
    def webhook(self) -> dict | None:
        """The params of the last setWebhook (url, secret_token, ...) or None."""
        with self._lock:
            return dict(self._webhook) if self._webhook else None

    @property
    def webhook_deliveries(self) -> list[dict]:
        """{"update_id", "status"} of every automatic webhook delivery attempt."""
        with self._lock:
            return list(self._deliveries)

    @property
    def pending_updates(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._pending)

    def messages(self, chat_id: Any) -> list[dict]:
        """Current state (after edits/deletes) of the chat's messages, by message_id."""
        with self._lock:
            found = [m for (c, _), m in self._messages.items() if c == chat_id]
            return copy.deepcopy(sorted(found, key=lambda m: m["message_id"]))

    def clear_sent(self) -> None:
        with self._lock:
            self._sent.clear()
            self._callback_answers.clear()
            self._accepted.clear()

    def wait_for(
        self,
        predicate_or_method: str | Callable[[dict], bool],
        timeout: float = 10.0,
        count: int = 1,
    ) -> list[dict]:
        """Block until at least `count` recorded calls match; return all matches.

        A string matches the method name (any status); a callable gets each entry.
        Raises TimeoutError listing the calls seen. Never call it on the event
        loop running the bot: use `wait_for_async` there.
        """
        if isinstance(predicate_or_method, str):
            method = predicate_or_method

            def match(entry: dict) -> bool:
                return entry["method"] == method

        else:
            match = predicate_or_method
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self._sent if match(e)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(e["method"], e["status"]) for e in self._sent]
                    raise TimeoutError(
                        f"{len(found)}/{count} matching calls after {timeout}s; seen {seen}"
                    )
                self._cond.wait(left)

    async def wait_for_async(
        self,
        predicate_or_method: str | Callable[[dict], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 (bounds the waiting thread)
        count: int = 1,
    ) -> list[dict]:
        return await asyncio.to_thread(self.wait_for, predicate_or_method, timeout, count)

    # --- building and pushing updates ---

    def make_message_update(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Ann",
        message_id: int | None = None,
    ) -> dict:
        """An Update with a user's text message; not queued (see push_message)."""
        with self._lock:
            if user_id is None:
                user_id = chat_id if chat_type == "private" else 1001
            chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
            if chat_type == "private":
                chat["first_name"] = first_name
            else:
                chat["title"] = f"Group {abs(chat_id)}"
            self._chats[chat_id] = chat
            message: dict[str, Any] = {
                "message_id": message_id if message_id is not None else next(self._message_ids),
                "date": int(time.time()),
                "chat": dict(chat),
                "from": {"id": user_id, "is_bot": False, "first_name": first_name},
                "text": text,
            }
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": _u16len(command)}
                ]
            self._messages[(chat_id, message["message_id"])] = message
            return {"update_id": next(self._update_ids), "message": copy.deepcopy(message)}

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Ann",
        message_id: int | None = None,
    ) -> dict:
        """Queue a user's text message for getUpdates (or webhook delivery); return the Update."""
        update = self.make_message_update(
            chat_id,
            text,
            user_id=user_id,
            chat_type=chat_type,
            first_name=first_name,
            message_id=message_id,
        )
        return self.push_update(update)

    def make_callback_update(
        self,
        chat_id: int,
        data: str,
        *,
        user_id: int | None = None,
        message: dict | int | None = None,
    ) -> dict:
        """An Update with an inline-button press; not queued (see push_callback).

        `message` is the bot's message (dict, or its message_id in this chat);
        by default the last message the bot sent to the chat.
        """
        with self._lock:
            if message is None:
                if chat_id not in self._last_bot_message:
                    raise LookupError(f"the bot has sent no message to chat {chat_id}")
                message = self._last_bot_message[chat_id]
            if isinstance(message, int):
                message = self._messages[(chat_id, message)]
            if user_id is None:
                user_id = chat_id if chat_id > 0 else 1001
            query_id = str(next(self._callback_ids))
            self._open_callbacks.add(query_id)
            query = {
                "id": query_id,
                "from": {"id": user_id, "is_bot": False, "first_name": "Ann"},
                "chat_instance": f"ci{chat_id}",
                "data": data,
                "message": copy.deepcopy(message),
            }
            return {"update_id": next(self._update_ids), "callback_query": query}

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        user_id: int | None = None,
        message: dict | int | None = None,
    ) -> dict:
        """Queue an inline-button press (see make_callback_update); return the Update."""
        return self.push_update(
            self.make_callback_update(chat_id, data, user_id=user_id, message=message)
        )

    def push_update(self, raw: dict) -> dict:
        """Queue any Update dict; an `update_id` is assigned when missing."""
        with self._cond:
            update = copy.deepcopy(raw)
            if "update_id" not in update:
                update["update_id"] = next(self._update_ids)
            elif update["update_id"] >= 100:
                # Keep later automatic ids above a caller-chosen one.
                nxt = next(self._update_ids)
                self._update_ids = itertools.count(max(nxt, update["update_id"] + 1))
            self._pending.append(update)
            self._pending.sort(key=lambda u: u["update_id"])
            self._cond.notify_all()
            return copy.deepcopy(update)

    def post_webhook(
        self,
        url: str,
        update: dict,
        secret: str | None,
        content_type: str = "application/json",
        timeout: float = 10.0,
    ) -> int:
        """POST one Update to a bot's webhook like Telegram does; return the HTTP status.

        Blocking: from an async test use `post_webhook_async`.
        """
        headers = {"Content-Type": content_type}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(
            url, data=json.dumps(update).encode(), headers=headers, method="POST"
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    async def post_webhook_async(
        self,
        url: str,
        update: dict,
        secret: str | None,
        content_type: str = "application/json",
    ) -> int:
        return await asyncio.to_thread(self.post_webhook, url, update, secret, content_type)

    # --- fault injection ---

    def fail_next(
        self, method: str, status: int = 500, count: int = 1, description: str | None = None
    ) -> None:
        """The next `count` calls of `method` ("*" = any) fail with `status`."""
        text = description or _STATUS_TEXT.get(status, "Error")
        with self._lock:
            self._faults[method].extend(TelegramApiError(status, text) for _ in range(count))

    def retry_after_next(self, method: str, seconds: int, count: int = 1) -> None:
        """The next `count` calls of `method` get 429 with parameters.retry_after."""
        with self._lock:
            self._faults[method].extend(
                TelegramApiError(
                    429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
                )
                for _ in range(count)
            )

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """The next `count` calls of `method` are answered `seconds` late."""
        with self._lock:
            self._delays[method].extend([seconds] * count)

    def block_chat(self, chat_id: Any) -> None:
        """Sends to this chat get 403 "Forbidden: bot was blocked by the user"."""
        with self._lock:
            self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: Any) -> None:
        with self._lock:
            self._blocked.discard(chat_id)

    # --- HTTP ---

    async def _endpoint(self, request: Request) -> JSONResponse:
        path = request.path_params["path"]
        token, _, method = path.rpartition("/")
        if not token.startswith("bot") or not method:
            return JSONResponse(TelegramApiError(404, "Not Found").body(), status_code=404)
        if token[3:] != self.token:
            return JSONResponse(TelegramApiError(401, "Unauthorized").body(), status_code=401)
        found = self._handlers.get(method.lower())
        if found is None:
            return JSONResponse(TelegramApiError(404, "Not Found").body(), status_code=404)
        name, handler = found
        status, result, error = 200, None, None
        params: dict[str, Any] = {}
        try:
            params = await self._decode(request)
            with self._lock:
                delays = self._delays.get(name) or self._delays.get("*")
                delay = delays.popleft() if delays else 0.0
                faults = self._faults.get(name) or self._faults.get("*")
                fault = faults.popleft() if faults else None
            if delay:
                await asyncio.sleep(delay)
            if fault is not None:
                raise fault
            if name == "getUpdates":
                result = await self._get_updates(params)
            else:
                with self._lock:
                    result = handler(params)
            body: dict[str, Any] = {"ok": True, "result": result}
        except TelegramApiError as exc:
            status, error, body = exc.status, exc.description, exc.body()
            if status == 429:
                with self._lock:
                    self.count_429 += 1
        if name != "getUpdates":
            self._record(name, params, status, result, error)
        return JSONResponse(body, status_code=status)

    def _record(self, method: str, params: dict, status: int, result: Any, error: Any) -> None:
        entry = {"method": method, **params}
        entry.update(status=status, result=result, error=error, time=time.monotonic())
        with self._cond:
            self._sent.append(entry)
            self._cond.notify_all()

    async def _decode(self, request: Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query_params)
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        if body and content_type.startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise _bad("can't parse JSON body") from exc
            if not isinstance(data, dict):
                raise _bad("JSON body must be an object")
            params = {**{k: _coerce(k, v) for k, v in raw.items()}, **data}
        elif body and content_type.startswith("multipart/form-data"):
            params = {k: _coerce(k, v) for k, v in raw.items()}
            params.update(_decode_multipart(content_type, body))
        else:
            raw.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
            params = {k: _coerce(k, v) for k, v in raw.items()}
        if isinstance(params.get("chat_id"), str) and params["chat_id"].lstrip("-").isdigit():
            params["chat_id"] = int(params["chat_id"])
        return params

    # --- chats and messages ---

    def _chat(self, params: dict) -> dict:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad("chat_id is empty")
        if chat_id in self._chats:
            return dict(self._chats[chat_id])
        if isinstance(chat_id, str):
            name = chat_id.lstrip("@")
            chat = {"id": -1_000_000_000_000 - len(name), "type": "channel", "title": name}
            chat["username"] = name
            return chat
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "Ann"}
        kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
        return {"id": chat_id, "type": kind, "title": f"Group {abs(chat_id)}"}

    def _check_send(self, method: str, params: dict) -> None:
        """Blocked chats, then rate limits; counts an accepted send."""
        chat_id = params.get("chat_id")
        if chat_id in self._blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        now = time.monotonic()
        if self.enforce_limits:
            wait = self._limits.check(chat_id, now)
            if wait > 0:
                retry = max(1, math.ceil(wait))
                raise TelegramApiError(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        self._accepted.append((now, chat_id))

    def _text_and_entities(self, params: dict, field: str = "text") -> tuple[str, list[dict]]:
        text = params.get(field)
        if text is None or text == "":
            raise _bad("message text is empty")
        text = str(text)
        if params.get("parse_mode", "").upper() == "HTML":
            text, entities = parse_html(text)
        else:
            entities = list(params.get("entities") or [])
        if not text.strip():
            raise _bad("message text is empty")
        if len(text) > MAX_TEXT:
            raise _bad("message is too long")
        return text, entities

    def _inline_markup(self, params: dict) -> dict | None:
        """Validate reply_markup; return it only if it is an inline keyboard (what Message echoes)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if "callback_data" in button:
                    size = len(str(button["callback_data"]).encode("utf-8"))
                    if not 1 <= size <= MAX_CALLBACK_DATA:
                        raise _bad("BUTTON_DATA_INVALID")
                elif len(button) == 1:
                    raise _bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                    )
        return markup

    def _new_message(self, chat: dict, fields: dict) -> dict:
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": dict(self.bot_user),
            **fields,
        }
        key = (chat["id"], message["message_id"])
        self._messages[key] = message
        self._bot_messages.add(key)
        self._last_bot_message[chat["id"]] = message["message_id"]
        return copy.deepcopy(message)

    def _reply_fields(self, params: dict, chat: dict) -> dict:
        reply = params.get("reply_parameters")
        reply_id = reply.get("message_id") if isinstance(reply, dict) else None
        reply_id = reply_id or params.get("reply_to_message_id")
        original = self._messages.get((chat["id"], reply_id))
        return {"reply_to_message": copy.deepcopy(original)} if original else {}

    def _find_message(self, params: dict, action: str) -> tuple[Any, dict]:
        key = (self._chat(params)["id"], params.get("message_id"))
        if key not in self._messages:
            raise _bad(f"message to {action} not found")
        if action == "edit" and key not in self._bot_messages:
            raise _bad("message can't be edited")
        return key, self._messages[key]

    # --- methods (called with self._lock held, except getUpdates) ---

    def _true(self, params: dict) -> bool:
        return True

    def _get_me(self, params: dict) -> dict:
        return dict(self.bot_user)

    async def _get_updates(self, params: dict) -> list[dict]:
        offset = int(params.get("offset") or 0)
        limit = min(100, max(1, int(params.get("limit") or 100)))
        hold = min(float(params.get("timeout") or 0), self.max_hold)
        with self._lock:
            if self._webhook is not None:
                raise TelegramApiError(409, _WEBHOOK_CONFLICT)
            if "allowed_updates" in params and params["allowed_updates"] is not None:
                self._allowed_updates = list(params["allowed_updates"]) or None
            if offset < 0:
                offset = self._pending[offset]["update_id"] if -offset <= len(self._pending) else 0
            if offset:
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self._poll_generation += 1
            generation = self._poll_generation
        deadline = time.monotonic() + hold
        while True:
            with self._lock:
                if generation != self._poll_generation:
                    raise TelegramApiError(409, _POLL_CONFLICT)
                ready = [u for u in self._pending if self._allowed(u)]
                if ready or time.monotonic() >= deadline:
                    return copy.deepcopy(ready[:limit])
            await asyncio.sleep(0.01)

    def _allowed(self, update: dict) -> bool:
        if not self._allowed_updates:
            return True
        return any(kind in update for kind in self._allowed_updates)

    def _set_webhook(self, params: dict) -> bool:
        url = params.get("url") or ""
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._poll_generation += 1  # a held getUpdates ends with 409, as on Telegram
        self._webhook = dict(params) if url else None
        self._webhook_error = None
        self._cond.notify_all()
        return True

    def _delete_webhook(self, params: dict) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = None
        return True

    def _get_webhook_info(self, params: dict) -> dict:
        info: dict[str, Any] = {
            "url": (self._webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook:
            info["max_connections"] = self._webhook.get("max_connections", 40)
            if self._webhook.get("allowed_updates"):
                info["allowed_updates"] = self._webhook["allowed_updates"]
        if self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    def _send_message(self, params: dict) -> dict:
        chat = self._chat(params)
        text, entities = self._text_and_entities(params)
        markup = self._inline_markup(params)
        self._check_send("sendMessage", params)
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        if markup:
            fields["reply_markup"] = markup
        fields.update(self._reply_fields(params, chat))
        message = self._new_message(chat, fields)
        params["message_id"] = message["message_id"]
        return message

    def _send_file(self, params: dict) -> dict:
        chat = self._chat(params)
        kind = "photo" if "photo" in params else "document"
        upload = params.get(kind)
        if upload is None:
            raise _bad(f"there is no {kind} in the request")
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise _bad("message caption is too long")
        markup = self._inline_markup(params)
        self._check_send("sendPhoto" if kind == "photo" else "sendDocument", params)
        file_id = f"file{next(self._message_ids)}"
        if isinstance(upload, dict):
            size, name, mime = len(upload["content"]), upload["filename"], upload["mime_type"]
        else:
            size, name, mime = 0, str(upload).rsplit("/", 1)[-1], "application/octet-stream"
        if kind == "photo":
            media: Any = [
                {"file_id": file_id, "file_unique_id": file_id, "width": 640, "height": 480}
            ]
        else:
            media = {
                "file_id": file_id,
                "file_unique_id": file_id,
                "file_name": name,
                "mime_type": mime,
                "file_size": size,
            }
        fields: dict[str, Any] = {kind: media}
        if caption:
            fields["caption"] = str(caption)
        if markup:
            fields["reply_markup"] = markup
        message = self._new_message(chat, fields)
        params["message_id"] = message["message_id"]
        return message

    def _answer_callback(self, params: dict) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if len(str(params.get("text") or "")) > MAX_ANSWER_TEXT:
            raise _bad("MESSAGE_TOO_LONG")
        if query_id not in self._open_callbacks:
            raise TelegramApiError(400, _QUERY_TOO_OLD)
        self._open_callbacks.discard(query_id)  # a query is answered once
        self._callback_answers.append(dict(params))
        return True

    def _edit(self, params: dict, text_fields: dict | None) -> dict | bool:
        markup = self._inline_markup(params)
        if params.get("inline_message_id"):
            return True
        key, current = self._find_message(params, "edit")
        new = {k: v for k, v in current.items() if k not in ("reply_markup", "edit_date")}
        if text_fields is not None:
            new.pop("entities", None)
            new.update(text_fields)
        if markup:
            new["reply_markup"] = markup
        strip = ("edit_date",)
        if {k: v for k, v in new.items() if k not in strip} == {
            k: v for k, v in current.items() if k not in strip
        }:
            raise _bad(_NOT_MODIFIED.removeprefix("Bad Request: "))
        new["edit_date"] = int(time.time())
        self._messages[key] = new
        return copy.deepcopy(new)

    def _edit_text(self, params: dict) -> dict | bool:
        text, entities = self._text_and_entities(params)
        fields: dict[str, Any] = {"text": text}
        if entities:
            fields["entities"] = entities
        return self._edit(params, fields)

    def _edit_markup(self, params: dict) -> dict | bool:
        return self._edit(params, None)

    def _send_chat_action(self, params: dict) -> bool:
        self._chat(params)
        if not params.get("action"):
            raise _bad("action is empty")
        if params.get("chat_id") in self._blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        return True

    def _delete_message(self, params: dict) -> bool:
        key, _ = self._find_message(params, "delete")
        del self._messages[key]
        self._bot_messages.discard(key)
        return True

    @staticmethod
    def _scope_key(params: dict) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _set_commands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        for item in commands:
            if not isinstance(item, dict) or not _COMMAND_RE.match(str(item.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", ""))) <= 256:
                raise _bad("command description is empty")
        self._commands[self._scope_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_commands(self, params: dict) -> list[dict]:
        return copy.deepcopy(self._commands.get(self._scope_key(params), []))

    def _delete_commands(self, params: dict) -> bool:
        self._commands.pop(self._scope_key(params), None)
        return True

    # --- webhook delivery (what Telegram does once a webhook is set) ---

    def _deliverable(self) -> tuple[str, str | None, dict] | None:
        hook = self._webhook
        if not (self.deliver_webhooks and hook and self._pending):
            return None
        host = urllib.parse.urlsplit(hook["url"]).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            return None  # tests never reach the internet
        return hook["url"], hook.get("secret_token"), copy.deepcopy(self._pending[0])

    def _deliver_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and (job := self._deliverable()) is None:
                    self._cond.wait(0.5)
                if self._closing:
                    return
            url, secret, update = job
            try:
                status = self.post_webhook(url, update, secret, timeout=5.0)
            except OSError as exc:
                status, reason = 0, str(exc)
            else:
                reason = f"Wrong response from the webhook: {status}"
            with self._cond:
                self._deliveries.append({"update_id": update["update_id"], "status": status})
                if 200 <= status < 300:
                    self._pending = [
                        u for u in self._pending if u["update_id"] != update["update_id"]
                    ]
                    self._webhook_error = None
                    continue
                self._webhook_error = (int(time.time()), reason)
                self._cond.wait(0.2)  # back off before retrying the same update


def _coerce(key: str, value: Any) -> Any:
    if key in _STRING_PARAMS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _decode_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=email_policy).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        filename = part.get_filename()
        payload = part.get_payload(decode=True) or b""
        if filename is not None:
            params[name] = {
                "filename": filename,
                "mime_type": part.get_content_type(),
                "content": payload,
            }
        else:
            params[name] = _coerce(name, payload.decode("utf-8"))
    return params
