"""Worker recycling (``worker_max_calls``): drained, replaced, and no caller notices."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.media import protocol as p
from tests.media.harness import media_server, run_sipp

pytestmark = pytest.mark.sip


def test_workers_are_recycled_without_failing_a_call(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, worker_max_calls=3) as (
            server, controller, settings
        ):
            front = f"127.0.0.1:{settings.sip_port}"
            first_pids = [w.pid for w in server.stats().workers]
            long_call = asyncio.ensure_future(run_sipp("probe.xml", front, tmp_path,
                                                       hold_ms=6000, timeout=30))
            await controller.wait_calls(1)
            (held,) = controller.calls.values()
            busy = held.call.worker_id
            saw_draining_with_call = asyncio.ensure_future(
                _until(lambda: server.stats().workers[busy].recycling and not held.done.is_set(),
                       20))
            sequential = asyncio.ensure_future(run_sipp(
                "probe.xml", front, tmp_path, calls=10, rate=10, limit=1, hold_ms=300,
                timeout=60))
            overlapping = asyncio.ensure_future(run_sipp(
                "probe.xml", front, tmp_path, calls=6, rate=10, limit=2, hold_ms=1000,
                timeout=60))
            await saw_draining_with_call  # the held call's worker drains while it goes on

            held_result = await long_call
            assert held_result.results == [200] and "BYE_OK" in held_result.log, \
                held_result.describe()
            await asyncio.wait_for(held.done.wait(), 5)
            assert held.hangup.by == "caller" and held.of(p.CallAnswered)

            for result in (await sequential, await overlapping):
                assert result.returncode == 0, result.describe()
                assert set(result.results) == {200}, result.results
            assert len(controller.calls) == 17

            await _until(lambda: not any(w.recycling for w in server.stats().workers), 20)
            more = await run_sipp("probe.xml", front, tmp_path, calls=8, rate=10, limit=1,
                                  hold_ms=200, timeout=60)
            assert set(more.results) == {200} and len(more.results) == 8, more.describe()
            await _until(lambda: not any(w.recycling for w in server.stats().workers), 20)

            stats = server.stats()
            for worker, old_pid in zip(stats.workers, first_pids, strict=True):
                assert worker.recycles >= 1, stats
                assert worker.pid != old_pid and worker.alive and worker.ready, stats
                assert worker.restarts == 0, stats  # planned, not crashes
                # one at a time: a worker past the limit may wait for the other's recycle
                assert worker.last_restart_reason.startswith("recycle after "), stats
            assert all(c.of(p.CallAnswered) for c in controller.calls.values())
            assert all(c.hangup.by == "caller" for c in controller.calls.values() if c.hangup)
            generations = {c.call.call_id.split("-")[0] for c in controller.calls.values()}
            assert {"w0.0", "w0.1", "w1.0", "w1.1"} <= generations, generations

    asyncio.run(scenario())


def test_a_single_worker_is_never_recycled(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, workers=1, worker_max_calls=2) as (
            server, controller, settings
        ):
            pid = server.stats().workers[0].pid
            result = await run_sipp("probe.xml", f"127.0.0.1:{settings.sip_port}", tmp_path,
                                    calls=4, rate=10, limit=1, hold_ms=200)
            assert result.results == [200] * 4, result.describe()
            (worker,) = server.stats().workers
            assert worker.pid == pid and worker.recycles == 0 and not worker.recycling
            assert worker.answered == 4

    asyncio.run(scenario())


async def _until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
