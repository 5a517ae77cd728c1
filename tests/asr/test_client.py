"""ivr.speech.asr_client against the real ASR service process (real Korean model, espeak-ng
Korean audio at 8 kHz, streamed in 100 ms chunks)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ivr.speech.asr_client import AsrClient, AsrUnavailable, Final, Partial
from tests.ports import free_block

REPO = Path(__file__).resolve().parents[2]
PHRASES = ["네", "아니요", "안녕하세요", "상담원 연결"]
CHUNK = 8000 * 100 // 1000 * 2  # 100 ms at 8 kHz, 16-bit


@pytest.fixture(scope="module")
def service(asr_server: str) -> str:
    return asr_server


async def recognise(client: AsrClient, pcm: bytes, **options) -> list[Partial | Final]:
    stream = await client.open_stream(**options)
    async with stream:
        for i in range(0, len(pcm), CHUNK):
            stream.send(pcm[i : i + CHUNK])
        await stream.finish()
        return [event async for event in stream.results()]


def finals(events: list[Partial | Final]) -> list[str]:
    return [e.text for e in events if isinstance(e, Final) and e.text]


@pytest.mark.parametrize("phrase", ["네", "상담원 연결"])  # STABLE in test_engine.py
def test_grammar_mode_exact(service: str, korean, phrase: str) -> None:
    events = asyncio.run(recognise(AsrClient(service), korean(phrase), phrase_list=PHRASES))
    assert finals(events) == [phrase]
    final = next(e for e in events if isinstance(e, Final) and e.text)
    assert final.grammar and final.mode == "grammar" and not final.last
    assert [w.word for w in final.words] == phrase.split()
    assert final.confidence is not None and 0.0 <= final.confidence <= 1.0
    assert isinstance(events[-1], Final) and events[-1].last  # the answer to finish()


def test_free_text_mode(service: str, korean) -> None:
    events = asyncio.run(recognise(AsrClient(service), korean("네"), endpoint_silence_ms=500))
    final = next(e for e in events if isinstance(e, Final) and e.text)
    assert not final.grammar and final.mode == "free"
    assert final.words and all(0.0 <= w.conf <= 1.0 for w in final.words)


def test_no_service_fails_fast() -> None:
    client = AsrClient.for_port(free_block(1))

    async def run() -> float:
        started = time.monotonic()
        with pytest.raises(AsrUnavailable, match="unavailable"):
            await client.open_stream(phrase_list=PHRASES)
        return time.monotonic() - started

    assert asyncio.run(run()) < 1.0


def test_silent_listener_times_out_fast() -> None:
    """A port that accepts TCP but never answers the handshake (a hung service): <= 1 s."""
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = AsrClient.for_port(listener.getsockname()[1])

        async def run() -> float:
            started = time.monotonic()
            with pytest.raises(AsrUnavailable):
                await client.open_stream()
            return time.monotonic() - started

        assert asyncio.run(run()) < 1.5


def test_finished_stream_refuses_audio(service: str, korean) -> None:
    async def run() -> None:
        stream = await AsrClient(service).open_stream()
        async with stream:
            stream.send(korean("네")[:CHUNK])
            await stream.finish()
            with pytest.raises(AsrUnavailable):
                stream.send(b"\0\0")
            events = [e async for e in stream.results()]
            assert isinstance(events[-1], Final) and events[-1].last

    asyncio.run(run())
