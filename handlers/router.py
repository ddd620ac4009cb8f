"""Routing: picks the handler from the message (button, command, free text) and the
user's conversation state. Feature modules each build a `Router` and the app
includes them into one (aiogram style)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from handlers.context import HandlerContext
from handlers.messages import Inbound, Reply

__all__ = ["Handler", "Router", "StateSpec"]

Handler = Callable[[Inbound, HandlerContext], Awaitable[list[Reply]]]

# Intents from the contract (knowledge/spec/topics.md), in priority order.
INTENTS = ("emergency", "disclosure", "report", "guidance", "smalltalk", "fallback")


@dataclass(frozen=True)
class StateSpec:
    handler: Handler
    # True when the state's own handler deals with emergencies in the text
    # (e.g. report intake); otherwise triage pre-empts it.
    handles_emergency: bool = False
    # Media (stickers, photos) go to the state handler instead of the generic prompt.
    handles_media: bool = False


class Router:
    def __init__(self, name: str = "root") -> None:
        self.name = name
        self.commands: dict[str, Handler] = {}
        self.buttons: dict[str, Handler] = {}
        self.states: dict[str, StateSpec] = {}
        self.intents: dict[str, Handler] = {}
        self.group_text: Handler | None = None

    # -- registration -----------------------------------------------------------
    def command(self, *names: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            for name in names:
                self.commands["/" + name.lstrip("/").lower()] = fn
            return fn

        return deco

    def button(self, prefix: str) -> Callable[[Handler], Handler]:
        """Handle buttons whose data is `prefix` or starts with `prefix:`."""

        def deco(fn: Handler) -> Handler:
            self.buttons[prefix] = fn
            return fn

        return deco

    def state(
        self, name: str, *, handles_emergency: bool = False, handles_media: bool = False
    ) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.states[name] = StateSpec(fn, handles_emergency, handles_media)
            return fn

        return deco

    def intent(self, name: str) -> Callable[[Handler], Handler]:
        if name not in INTENTS:
            raise ValueError(f"unknown intent {name!r}")

        def deco(fn: Handler) -> Handler:
            self.intents[name] = fn
            return fn

        return deco

    def include(self, *others: Router) -> Router:
        for other in others:
            for table in ("commands", "buttons", "states", "intents"):
                mine, theirs = getattr(self, table), getattr(other, table)
                clash = set(mine) & set(theirs)
                if clash:
                    raise ValueError(f"{other.name} re-registers {table}: {sorted(clash)}")
                mine.update(theirs)
            if other.group_text is not None:
                self.group_text = other.group_text
        return self

    # -- lookup --------------------------------------------------------------------
    def find_button(self, data: str) -> Handler | None:
        prefix = data
        while True:
            if prefix in self.buttons:
                return self.buttons[prefix]
            if ":" not in prefix:
                return None
            prefix = prefix.rsplit(":", 1)[0]
