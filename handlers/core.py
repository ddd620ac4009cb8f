"""The channel-neutral core: one inbound message in, state and replies committed.

Every adapter (console, simulator, Telegram, Zalo) calls `Core.handle`. Replies are
written to the durable outbox in the same transaction as the state change, and the
update id is recorded there too, so a redelivered update is ignored and a crash
before the commit leaves nothing half-done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import traceback
import unicodedata
from collections.abc import Callable

from handlers.context import HandlerContext, Services
from handlers.messages import Button, Inbound, Reply
from handlers.router import Router
from storage.repositories import core as core_repo
from storage.repositories import outbox as outbox_repo
from storage.uow import UnitOfWork

__all__ = ["Core", "dispatch", "main_menu_buttons", "resolve_label"]

log = logging.getLogger("bvte.core")

MEDIA_KINDS = {"sticker", "photo", "voice", "file", "unsupported"}
REPLY_PRIORITY = 3
# Messages taken into one transaction at most (group commit, see Core.handle).
MAX_BATCH = 32


def main_menu_buttons(ctx: HandlerContext) -> tuple[Button, ...]:
    return (
        Button(ctx.t("menu.ask"), "menu:ask"),
        Button(ctx.t("menu.report"), "report:start"),
        Button(ctx.t("menu.sos"), "menu:sos"),
    )


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFD", text.casefold().strip()).replace("đ", "d")
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).split())


# The bot's own labels, folded once (a user's answers are never kept).
_fold_label = functools.lru_cache(maxsize=1024)(_fold)


def resolve_label(menu: list[list[str]], answer: str, *, numbered: bool = True) -> str | None:
    """Map a typed answer to a button's data: exact label, then case- and
    diacritics-insensitive label, then (if allowed) its 1-based number."""
    answer = answer.strip()
    for label, data in menu:
        if label == answer:
            return data
    folded = _fold(answer)
    for label, data in menu:
        if _fold_label(label) == folded:
            return data
    if numbered and answer.isdigit() and 1 <= int(answer) <= len(menu):
        return menu[int(answer) - 1][1]
    return None


async def dispatch(router: Router, msg: Inbound, ctx: HandlerContext) -> list[Reply]:
    """Pick and run the handler for one message."""
    spec = router.states.get(ctx.state) if ctx.state else None
    if msg.kind == "edited":
        return [] if msg.is_group else [Reply(ctx.t("input.edited"))]
    if msg.button:
        handler = router.find_button(msg.button)
        if handler is None:
            return [Reply(ctx.t("input.stale_button"), main_menu_buttons(ctx))]
        return await handler(msg, ctx)
    if msg.kind in MEDIA_KINDS:
        if spec is not None and spec.handles_media:
            return await spec.handler(msg, ctx)
        if msg.is_group:
            return []
        return [Reply(ctx.t(f"input.{msg.kind}"), main_menu_buttons(ctx))]
    text = (msg.text or "").strip()
    if not text:
        return [] if msg.is_group else [Reply(ctx.t("input.empty"), main_menu_buttons(ctx))]
    command = msg.command
    if command is not None:
        handler = router.commands.get(command[0])
        if handler is not None:
            return await handler(msg, ctx)
        if msg.is_group:
            return []  # commands meant for other bots in the group
        return [Reply(ctx.t("input.unknown_command", command=command[0][:32]))]
    if msg.is_group and spec is None:
        return []  # the bot does not answer ordinary group chatter
    understanding = ctx.understand(text[: ctx.services.settings.max_text])
    if spec is not None:
        if understanding.intent == "emergency" and not spec.handles_emergency:
            return await router.intents["emergency"](msg, ctx)
        return await spec.handler(msg, ctx)
    intent = understanding.intent
    if ctx.is_new_user and intent in ("smalltalk", "fallback"):
        return await router.commands["/start"](msg, ctx)
    handler = router.intents.get(intent) or router.intents["fallback"]
    return await handler(msg, ctx)


def _may_be_typed_button(msg: Inbound) -> bool:
    """A typed text that may be a button's label or number (the chat's menu decides)."""
    return (
        msg.button is None and msg.kind == "text" and bool(msg.text) and not msg.command
        and len(msg.text) <= 80
    )


def _resolve_typed_button(msg: Inbound, menu: list[list[str]]) -> Inbound:
    if not menu or not _may_be_typed_button(msg):
        return msg
    data = resolve_label(menu, msg.text or "", numbered=msg.numbered_menus)
    if data is None:
        return msg
    return dataclasses.replace(msg, button=data, kind="button")


class Core:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        services: Services,
        router: Router,
        *,
        parallel: int = 1,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """`parallel`: transactions at once (SQLite has one writer: 1; PostgreSQL
        serves several, and a burst of reports needs them: its pool size)."""
        self.uow_factory = uow_factory
        self.services = services
        self.router = router
        self.parallel = max(1, parallel)
        self.max_batch = max(1, max_batch)
        self._waiting: list[tuple[Inbound, asyncio.Future[bool]]] = []
        self._batchers: set[asyncio.Task[None]] = set()

    async def handle(self, msg: Inbound) -> bool:
        """Process one message. False when it was a duplicate delivery.

        Group commit: messages that arrive while others are being handled are
        taken together, in one transaction (SQLite has one writer; a commit and
        a transaction's set-up cost more than most messages' own work). Nothing
        waits for a batch to fill: a message alone is handled at once."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((msg, done))
        self._batchers = {task for task in self._batchers if not task.done()}
        if len(self._batchers) < self.parallel:
            self._batchers.add(asyncio.create_task(self._run_batches()))
        return await done

    async def _run_batches(self) -> None:
        while self._waiting:
            batch = self._waiting[:self.max_batch]
            del self._waiting[:self.max_batch]
            try:
                if len(batch) == 1:
                    results = [await self._handle_one(batch[0][0])]
                else:
                    results = await self._handle_batch([msg for msg, _ in batch])
            except BaseException as exc:  # cancelled at shutdown: callers must not hang
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                raise
            for (_, done), result in zip(batch, results, strict=True):
                if not done.done():
                    done.set_result(result)

    async def _handle_batch(self, msgs: list[Inbound]) -> list[bool]:
        try:
            async with self.uow_factory() as uow:
                outcomes = [await self._process(uow.session, msg) for msg in msgs]
        except Exception:
            # Nothing of the batch was committed: handle each alone, so only the
            # failing message gets the error answer.
            return [await self._handle_one(msg) for msg in msgs]
        if any(queued for _, queued in outcomes):
            await self._notify()
        return [fresh for fresh, _ in outcomes]

    async def _handle_one(self, msg: Inbound) -> bool:
        try:
            async with self.uow_factory() as uow:
                fresh, queued = await self._process(uow.session, msg)
        except Exception as exc:  # the central error handler: log safely, answer safely
            # Only the type and the stack: exception messages may carry user text or SQL params.
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("handler failed: %s\n%s", type(exc).__name__, frames)
            fresh, queued = True, await self._answer_error(msg, self.services.clock.now())
        if queued:
            await self._notify()
        return fresh

    async def _process(self, session, msg: Inbound) -> tuple[bool, int]:
        """One message inside the caller's transaction: (not a duplicate, messages queued)."""
        now = self.services.clock.now()
        start = await session.run_sync(
            core_repo.start_message, channel=msg.channel, chat_id=msg.chat_id,
            user_key=msg.user_id, update_key=msg.update_id, now=now,
            locale=self.services.settings.locale, want_menu=_may_be_typed_button(msg),
        )
        if start is None:  # a redelivered update
            return False, 0
        msg = _resolve_typed_button(msg, start.menu)
        ctx = HandlerContext(
            session=session, services=self.services, user=start.user, conv=start.conv,
            is_new_user=start.is_new,
        )
        replies = await dispatch(self.router, msg, ctx)
        if replies or ctx.state_changed or ctx.user.changes():
            await session.run_sync(self._finish, msg, ctx, replies, now)
        return True, len(replies) + ctx.queued

    @staticmethod
    def _finish(session, msg: Inbound, ctx: HandlerContext, replies: list[Reply], now) -> None:
        """What the handler changed of the sender and their conversation, and the
        replies, in one hop."""
        core_repo.save_user(session, ctx.user)
        if ctx.state_changed:
            core_repo.save_conversation(session, ctx.conv)
        for reply in replies:
            outbox_repo.enqueue_sync(
                session, channel=msg.channel, chat_id=msg.chat_id, user_key=msg.user_id,
                text=reply.text, buttons=reply.buttons, kind="reply",
                priority=REPLY_PRIORITY, now=now,
            )

    async def _answer_error(self, msg: Inbound, now) -> int:
        from handlers.texts import t

        try:
            async with self.uow_factory() as uow:
                if msg.update_id is not None:
                    await core_repo.record_update(
                        uow.session, channel=msg.channel, update_key=msg.update_id, now=now
                    )
                if msg.is_group:
                    return 0
                await outbox_repo.enqueue(
                    uow.session, channel=msg.channel, chat_id=msg.chat_id, user_key=msg.user_id,
                    text=t("error", self.services.settings.locale), kind="reply",
                    priority=REPLY_PRIORITY, now=now,
                )
                return 1
        except Exception as exc:
            log.error("could not record the error reply: %s", type(exc).__name__)
            return 0

    async def _notify(self) -> None:
        hook = self.services.on_enqueued
        if hook is None:
            return
        result = hook()
        if result is not None:
            await result
