"""Which detection loops still run: the first that ended, and how, is why health is degraded."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from sut.agent.liveness import Loops, LoopStopped


async def fails() -> None:
    raise OSError("disk gone")


async def returns() -> None:
    return None


def watched(
    *loops: tuple[str, Coroutine[Any, Any, None]],
) -> tuple[LoopStopped | None, LoopStopped | None]:
    """Run the named coroutines under one Loops; what it said before and after they ended."""

    async def run() -> tuple[LoopStopped | None, LoopStopped | None]:
        watch = Loops()
        forever = asyncio.Event()
        running = asyncio.create_task(forever.wait())
        watch.watch("running_loop", running)
        tasks = [asyncio.create_task(coro) for _, coro in loops]
        for (name, _), task in zip(loops, tasks, strict=True):
            watch.watch(name, task)
        before = watch.stopped
        for task in tasks:
            with contextlib.suppress(Exception):
                await task  # its end is seen first: Loops' callback was added before this await
        after = watch.stopped
        running.cancel()
        return before, after

    return asyncio.run(run())


def test_a_loop_that_raised_is_named_with_its_error():
    before, after = watched(("probe_loop", fails()))
    assert before is None  # not yet run: nothing has ended
    assert after == LoopStopped("probe_loop", "OSError: disk gone")
    assert after.health_view("online") == {
        "status": "degraded",
        "mode": "online",
        "reason": "probe_loop stopped: OSError: disk gone",
    }


def test_a_loop_that_returned_is_stopped_too():
    _, after = watched(("tick_loop", returns()))
    assert after is not None
    assert after.reason == "tick_loop stopped: returned"


def test_the_first_loop_to_end_is_the_reason():
    _, after = watched(("tick_loop", returns()), ("remediation_loop", fails()))
    assert after is not None
    assert after.loop == "tick_loop"


def test_loops_still_running_are_not_stopped():
    _, after = watched()
    assert after is None
