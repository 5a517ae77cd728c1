"""Who gets in: capacity through the front, trusted sources, codecs, malformed SIP, drain."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.media import protocol as p
from tests.media.harness import (
    final_code,
    media_server,
    offer_sdp,
    raw_invite,
    run_sipp,
    sip_exchange,
)

pytestmark = pytest.mark.sip


def test_eight_calls_through_the_front_and_the_ninth_refused(tmp_path: Path,
                                                             prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt) as (server, controller, settings):
            assert server.stats().max_legs == 8
            result = await run_sipp("probe.xml", f"127.0.0.1:{settings.sip_port}", tmp_path,
                                    calls=9, rate=30, hold_ms=4000)
            assert result.returncode == 0, result.describe()
            assert sorted(result.results) == [200] * 8 + [486], result.results
            ended = await controller.wait_ended(8)
            per_worker = [c.call.worker_id for c in ended]
            assert sorted(per_worker) == [0] * 4 + [1] * 4
            assert all(c.of(p.CallAnswered) for c in ended)
            assert result.log.count("BYE_OK") == 8

    asyncio.run(scenario())


def test_untrusted_source_gets_403_from_a_worker(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt) as (server, controller, settings):
            worker = f"127.0.0.1:{settings.worker_ports[0]}"
            result = await run_sipp("probe.xml", worker, tmp_path, local_ip="127.0.0.2")
            assert result.results == [403], result.describe()
            assert controller.calls == {}
            assert server.stats().workers[0].rejected == 1
            trusted = await run_sipp("probe.xml", worker, tmp_path, hold_ms=200)
            assert trusted.results == [200], trusted.describe()

    asyncio.run(scenario())


def test_no_common_codec_gets_488_and_malformed_sip_is_survived(tmp_path: Path,
                                                                prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, workers=1) as (server, controller, settings):
            target = ("127.0.0.1", settings.worker_ports[0])
            local = ("127.0.0.1", "LOCALPORT")
            pid = server.stats().workers[0].pid
            g729 = offer_sdp("127.0.0.1", 40000, "18 3", ["18 G729/8000", "3 GSM/8000"])
            code = await asyncio.to_thread(
                lambda: final_code(sip_exchange(target, raw_invite(target, local, g729))))
            assert code == 488
            garbage_sdp = "this is not SDP\r\nm=audio banana\r\n"
            bad = [
                raw_invite(target, local, garbage_sdp),
                raw_invite(target, local, g729, drop=("Call-ID", "From")),
                raw_invite(target, local, g729, drop=("Via",)),
                raw_invite(target, local, g729, drop=("CSeq", "To")),
                b"INVITE \x00\xff\xfe garbage\r\n\r\n" + bytes(range(256)),
                b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
            ]
            for payload in bad:
                replies = await asyncio.to_thread(sip_exchange, target, payload, "127.0.0.1", 0.5)
                assert all(r.startswith("SIP/2.0 4") or r.startswith("SIP/2.0 1")
                           for r in replies), replies
            assert server.stats().workers[0].pid == pid
            assert server.stats().workers[0].alive
            result = await run_sipp("probe.xml", f"{target[0]}:{target[1]}", tmp_path,
                                    hold_ms=300)
            assert result.results == [200], result.describe()
            assert len(controller.calls) == 1
            assert server.stats().workers[0].restarts == 0

    asyncio.run(scenario())


def test_drain_refuses_new_calls_while_calls_in_progress_go_on(tmp_path: Path,
                                                               prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt) as (server, controller, settings):
            front = f"127.0.0.1:{settings.sip_port}"
            ongoing = asyncio.ensure_future(run_sipp("probe.xml", front, tmp_path,
                                                     hold_ms=4000))
            await controller.wait_calls(1)
            await server.drain()
            await asyncio.sleep(0.2)
            refused = await run_sipp("probe.xml", front, tmp_path)
            assert refused.results == [503], refused.describe()
            result = await ongoing
            assert result.returncode == 0 and result.results == [200], result.describe()
            assert "BYE_OK" in result.log
            (entry,) = await controller.wait_ended(1)
            assert entry.hangup.by == "caller"
            assert len(controller.calls) == 1

    asyncio.run(scenario())


def test_invite_flood_is_rate_limited_per_source(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, invite_rate_limit=4) as (
            server, controller, settings
        ):
            controller.reject_code = 486  # flood calls that get through are refused at once
            front = f"127.0.0.1:{settings.sip_port}"
            flood = asyncio.ensure_future(run_sipp(
                "probe.xml", front, tmp_path, local_ip="127.0.0.2", calls=60, rate=60,
                limit=60, timeout=20))
            await asyncio.sleep(0.5)
            controller.reject_code = 0
            other = await run_sipp("probe.xml", front, tmp_path, hold_ms=300)
            flooded = await flood
            assert other.results == [200], other.describe()
            limited = flooded.results.count(503)
            assert limited >= 40, flooded.results
            assert len(flooded.results) == 60

    asyncio.run(scenario())
