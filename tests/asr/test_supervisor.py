"""asr.supervisor.AsrService with the real Korean model: start, stream through the client,
SIGKILL the service (fast AsrUnavailable, restart, a new stream works), keypad-only without a
model, a clear start-up error with a bad model directory."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from asr.supervisor import AsrService, AsrStartError
from hotline.settings import Settings
from ivr.speech.asr_client import AsrClient, AsrUnavailable, Final
from tests.ports import free_block

PHRASES = ["네", "아니요", "안녕하세요", "상담원 연결"]
CHUNK = 8000 * 100 // 1000 * 2  # 100 ms at 8 kHz


def settings(tmp_path: Path, model: Path | None) -> Settings:
    return Settings(data_dir=tmp_path, asr_model=model, asr_port=free_block(1))


async def grammar_text(client: AsrClient, pcm: bytes) -> list[str]:
    stream = await client.open_stream(phrase_list=PHRASES)
    async with stream:
        for i in range(0, len(pcm), CHUNK):
            stream.send(pcm[i : i + CHUNK])
        await stream.finish()
        return [e.text async for e in stream.results() if isinstance(e, Final) and e.text]


def test_start_stream_kill_restart(tmp_path: Path, ko_model_path: Path, korean) -> None:
    cfg = settings(tmp_path, ko_model_path)
    audio = korean("상담원 연결")

    async def run() -> None:
        asr = AsrService(cfg)
        await asr.start()
        try:
            assert asr.state == "up" and asr.restarts == 0
            assert asr.health()["state"] == "up"
            assert os.getsid(asr.pid) == asr.pid != os.getsid(0)  # its own session
            client = AsrClient(asr.url)
            assert await grammar_text(client, audio) == ["상담원 연결"]

            # killed mid-stream: the stream fails fast
            first_pid = asr.pid
            stream = await client.open_stream(phrase_list=PHRASES)
            stream.send(audio[: 5 * CHUNK])
            os.kill(first_pid, signal.SIGKILL)
            started = time.monotonic()
            with pytest.raises(AsrUnavailable):
                for i in range(5 * CHUNK, len(audio), CHUNK):
                    stream.send(audio[i : i + CHUNK])
                    await asyncio.sleep(0.1)  # real time
                await stream.finish()
                _ = [e async for e in stream.results()]
            assert time.monotonic() - started < 2.0
            await stream.close()

            # while it restarts: a new stream fails fast, the service reports "down"
            started = time.monotonic()
            with pytest.raises(AsrUnavailable):
                await client.open_stream(phrase_list=PHRASES)
            assert time.monotonic() - started < 1.0
            assert asr.state == "down"

            deadline = time.monotonic() + 60
            while asr.state != "up":
                assert time.monotonic() < deadline, (tmp_path / "logs" / "asr.log").read_text()
                await asyncio.sleep(0.1)
            assert asr.restarts == 1 and asr.pid != first_pid
            assert asr.health()["last_exit"] == -signal.SIGKILL
            assert await grammar_text(client, korean("네")) == ["네"]
        finally:
            await asr.stop()
        assert asr.process.returncode == 0  # SIGTERM: a clean exit
        assert asr.state == "down"
        log = (tmp_path / "logs" / "asr.log").read_text()
        assert log.count("ASR service listening") == 2

    asyncio.run(run())


def test_no_model_is_keypad_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    asr = AsrService(settings(tmp_path, None))
    with caplog.at_level(logging.INFO, logger="hotline.asr.supervisor"):
        asyncio.run(asr.start())
    assert asr.process is None and asr.state == "off"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "keypad-only" in lines[0] and "仅支持按键" in lines[0]
    assert "HOTLINE_ASR_MODEL" in lines[0] and "vosk-model-small-cn-0.22" in lines[0]
    assert not (tmp_path / "logs" / "asr.log").exists()
    asyncio.run(asr.stop())  # harmless


@pytest.mark.parametrize("layout", ["missing", "empty", "file"])
def test_bad_model_dir_fails_startup(tmp_path: Path, layout: str) -> None:
    model = tmp_path / "model"
    if layout == "empty":
        model.mkdir()
    elif layout == "file":
        model.write_text("not a model")
    asr = AsrService(settings(tmp_path, model))
    with pytest.raises(AsrStartError) as info:
        asyncio.run(asr.start())
    message = str(info.value)
    assert "HOTLINE_ASR_MODEL" in message and "vosk-model-small-cn-0.22" in message
    assert str(model) in message
    assert asr.process is None


def test_damaged_model_fails_startup_with_log(tmp_path: Path) -> None:
    """Layout right, content wrong: the child fails to load it; start-up fails at once with
    the child's error, not after the ready timeout."""
    model = tmp_path / "model"
    for part in ("am/final.mdl", "graph/HCLG.fst", "conf/model.conf"):
        (model / part).parent.mkdir(parents=True, exist_ok=True)
        (model / part).write_text("x")
    asr = AsrService(settings(tmp_path, model))
    started = time.monotonic()
    with pytest.raises(AsrStartError, match="could not load the model"):
        asyncio.run(asr.start())
    assert time.monotonic() - started < 30
    assert asr.process is not None and asr.process.returncode == 2
