"""Background work that falls due with time: outbox retries, case time limits,
plan reminders, campaigns. Everything is driven from the database, so a restart
picks up where it was; the simulator runs the same jobs on its own clock."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from handlers.clock import Clock, SimClock

__all__ = ["Job", "JobRunner"]

log = logging.getLogger("bvte.jobs")


class Job(Protocol):
    name: str

    async def run_due(self, now: datetime) -> int:
        """Do everything due at `now`; return how much was done."""
        ...

    async def next_due(self) -> datetime | None:
        """When this job next has work (None: nothing scheduled)."""
        ...


class JobRunner:
    def __init__(self, jobs: Sequence[Job], clock: Clock) -> None:
        self.jobs = list(jobs)
        self.clock = clock

    def add(self, job: Job) -> None:
        self.jobs.append(job)

    async def run_due(self) -> int:
        done = 0
        for job in self.jobs:
            done += await job.run_due(self.clock.now())
        return done

    async def next_due(self) -> datetime | None:
        dues = [d for d in [await job.next_due() for job in self.jobs] if d is not None]
        return min(dues) if dues else None

    async def advance_to(self, target: datetime, max_steps: int = 100_000) -> None:
        """Simulated time: jump from one due instant to the next up to `target`,
        running what falls due at each, so a year passes in one call."""
        clock = self.clock
        if not isinstance(clock, SimClock):
            raise TypeError("advance_to needs a SimClock")
        await self.run_due()
        for _ in range(max_steps):
            due = await self.next_due()
            if due is None or due > target:
                break
            if due > clock.now():
                clock.set(due)
            if await self.run_due() == 0 and due <= clock.now():
                # Nothing could be done at this instant (e.g. a retry not yet allowed):
                # step past it rather than spin.
                nxt = await self.next_due()
                if nxt is None or nxt <= clock.now():
                    break
        clock.set(target)
        await self.run_due()
