"""The channel contract and registry.

A channel turns platform updates into `Inbound` messages for the core and sends
`Outbound` messages (it is the dispatcher's `Sender` for its name)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from handlers.messages import Outbound, SendResult

if TYPE_CHECKING:
    from bot.app import App

__all__ = ["Channel", "RecordingSender"]


class Channel(Protocol):
    name: str

    async def start(self, app: App) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, out: Outbound) -> SendResult: ...


class RecordingSender:
    """Keeps what was sent, in order (the simulator and the console print it)."""

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    async def send(self, out: Outbound) -> SendResult:
        self.sent.append(out)
        return SendResult(platform_message_id=str(len(self.sent)))

    def take(self) -> list[Outbound]:
        out, self.sent = self.sent, []
        return out
