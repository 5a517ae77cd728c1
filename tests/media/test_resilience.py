"""Crash isolation and stuck-call clean-up."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest

from ivr.media import protocol as p
from tests.media.harness import media_server, offer_sdp, raw_invite, run_sipp, sip_exchange

pytestmark = pytest.mark.sip


def test_killed_worker_is_restarted_and_other_calls_go_on(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt) as (server, controller, settings):
            front = f"127.0.0.1:{settings.sip_port}"
            calls = asyncio.ensure_future(run_sipp("probe.xml", front, tmp_path, calls=2,
                                                   rate=20, hold_ms=5000, timeout=20))
            await controller.wait_calls(2)
            await asyncio.sleep(1.0)
            by_worker = {c.call.worker_id: c for c in controller.calls.values()}
            assert sorted(by_worker) == [0, 1]
            victim = server.stats().workers[0].pid
            os.kill(victim, signal.SIGKILL)

            (dead,) = await controller.wait_ended(1, timeout=5)
            assert dead is by_worker[0] and dead.hangup.by == "worker"
            assert not by_worker[1].done.is_set(), "the other worker's call must go on"
            await _until(lambda: server.stats().workers[0].ready, 15)
            stats = server.stats().workers[0]
            assert stats.restarts == 1 and stats.pid != victim and stats.alive

            result = await calls
            assert result.results == [200, 200]
            assert result.log.count("BYE_OK") == 1  # the survivor's call ended normally
            survivor = by_worker[1]
            await asyncio.wait_for(survivor.done.wait(), 5)
            assert survivor.hangup.by == "caller"
            assert server.stats().workers[1].restarts == 0

            again = await run_sipp("probe.xml", f"127.0.0.1:{settings.worker_ports[0]}",
                                   tmp_path, hold_ms=300)
            assert again.results == [200], again.describe()
            newest = [c for c in controller.calls.values() if c.call.worker_id == 0][-1]
            assert newest.call.call_id.startswith("w0.1-")

    asyncio.run(scenario())


def test_rtp_inactivity_hangs_up(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, workers=1, rtp_timeout_seconds=2.0) as (
            server, controller, settings
        ):
            result = await run_sipp("wait_bye.xml", f"127.0.0.1:{settings.sip_port}",
                                    tmp_path, timeout=30)
            assert result.returncode == 0, result.describe()
            (entry,) = await controller.wait_ended(1)
            assert entry.hangup.by == "timeout" and entry.hangup.reason == "RTP timeout"
            # 7 s of caller RTP keep the call up; it ends 2-3 s after the RTP stops.
            lasted = entry.time_of(p.CallHangup) - entry.time_of(p.CallAnswered)
            assert 8.0 < lasted < 12.0, lasted

    asyncio.run(scenario())


def test_max_call_length_hangs_up(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, workers=1, max_call_seconds=3.0) as (
            server, controller, settings
        ):
            result = await run_sipp("wait_bye.xml", f"127.0.0.1:{settings.sip_port}",
                                    tmp_path, timeout=30)
            assert result.returncode == 0, result.describe()
            (entry,) = await controller.wait_ended(1)
            assert entry.hangup.by == "timeout" and entry.hangup.reason == "max call length"
            lasted = entry.time_of(p.CallHangup) - entry.time_of(p.CallAnswered)
            assert 2.5 < lasted < 4.5, lasted

    asyncio.run(scenario())


def test_session_timer_is_offered(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, workers=1, session_timer_seconds=120) as (
            server, controller, settings
        ):
            target = ("127.0.0.1", settings.worker_ports[0])
            sdp = offer_sdp("127.0.0.1", 40002, "8", ["8 PCMA/8000"])
            invite = raw_invite(target, ("127.0.0.1", "LOCALPORT"), sdp,
                                extra={"Supported": "timer", "Session-Expires": "120"})
            replies = await asyncio.to_thread(sip_exchange, target, invite, "127.0.0.1", 3.0,
                                              True)
            ok = [r for r in replies if r.startswith("SIP/2.0 200")]
            assert ok, replies
            headers = ok[0].lower()
            assert "session-expires: 120" in headers or "x: 120" in headers, ok[0]

    asyncio.run(scenario())


async def _until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
