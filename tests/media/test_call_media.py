"""A real call through the Kamailio front: RTP, RFC 4733 and SIP INFO DTMF, recording."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.media import protocol as p
from tests.media.harness import media_server, run_sipp, wav_stats

pytestmark = pytest.mark.sip


@pytest.mark.parametrize(
    ("codec_pt", "codec_name", "te_pt"),
    [("8", "PCMA", "101"), ("0", "PCMU", "101"), ("8", "PCMA", "96")],
    ids=["pcma-te101", "pcmu-te101", "pcma-te96"],
)
def test_call_dtmf_and_recording(
    tmp_path: Path, prompt: Path, codec_pt: str, codec_name: str, te_pt: str
) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt) as (server, controller, settings):
            result = await run_sipp(
                "call_dtmf.xml", f"127.0.0.1:{settings.sip_port}", tmp_path,
                keys={"codec_pt": codec_pt, "codec_name": codec_name, "te_pt": te_pt},
            )
            assert result.returncode == 0, result.describe()
            (entry,) = await controller.wait_ended(1)
            assert entry.call.caller == "13912345678"
            assert entry.call.callee == "95598"
            answered = entry.of(p.CallAnswered)
            assert [a.codec for a in answered] == [codec_name]
            dtmf = entry.of(p.Dtmf)
            assert [(d.digit, d.method) for d in dtmf] == [
                ("1", "rfc4733"), ("#", "rfc4733"), ("5", "info"),
            ]
            assert entry.of(p.PromptDone), "the prompt was played to its end"
            assert entry.hangup is not None and entry.hangup.by == "caller"
            rate, channels, rms = wav_stats(entry.record_path)
            assert (rate, channels) == (8000, 1)
            assert rms > 300, f"recording is silent (rms {rms:.0f})"
            assert server.stats().legs_in_use == 0

    asyncio.run(scenario())


def test_prompt_stop_and_replace(tmp_path: Path, prompt: Path) -> None:
    """StopPlay and a new Play interrupt the current prompt within a few ms."""

    async def scenario() -> None:
        async with media_server(tmp_path, prompt) as (server, controller, settings):
            controller.loop_prompt = False
            sipp = asyncio.ensure_future(run_sipp(
                "probe.xml", f"127.0.0.1:{settings.sip_port}", tmp_path, hold_ms=3000))
            await controller.wait_calls(1)
            call = next(iter(controller.calls.values())).call
            await asyncio.sleep(0.3)  # answered, first prompt playing (1 s long)
            follow = controller.calls[call.call_id]
            follow.events.clear()
            first = await call.play([prompt, prompt])
            loop = asyncio.get_running_loop()
            started = loop.time()
            second = await call.play([prompt])
            await _wait_for(follow, lambda e: isinstance(e, p.PromptDone)
                            and e.prompt_id == first)
            replaced_ms = (loop.time() - started) * 1000
            started = loop.time()
            await call.stop_play()
            await _wait_for(follow, lambda e: isinstance(e, p.PromptDone)
                            and e.prompt_id == second)
            stopped_ms = (loop.time() - started) * 1000
            done = {e.prompt_id: e.interrupted for e in follow.of(p.PromptDone)}
            assert done[first] is True and done[second] is True
            assert replaced_ms < 50 and stopped_ms < 50, (replaced_ms, stopped_ms)
            result = await sipp
            assert result.returncode == 0 and result.results == [200], result.describe()

    asyncio.run(scenario())


async def _wait_for(entry, predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.002)):
        if any(predicate(e) for e in entry.events):
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"event not seen: {entry.events}")


def test_dtmf_flood_is_capped_and_survived(tmp_path: Path, prompt: Path) -> None:
    async def scenario() -> None:
        async with media_server(tmp_path, prompt, workers=1) as (server, controller, settings):
            pid = server.stats().workers[0].pid
            result = await run_sipp("dtmf_flood.xml", f"127.0.0.1:{settings.sip_port}",
                                     tmp_path)
            assert result.returncode == 0, result.describe()
            (entry,) = await controller.wait_ended(1)
            digits = entry.digits
            assert set(digits) == {"7"}
            assert 20 <= len(digits) <= 60, len(digits)  # 150 sent, 20 a second let through
            assert entry.hangup.by == "caller"
            assert server.stats().workers[0].pid == pid and server.stats().workers[0].alive

    asyncio.run(scenario())
