"""The espeak-ng synthesizer (real engine, worker processes) and the audio helpers."""

import asyncio
import time
import wave

import numpy as np
import pytest

from ivr.normalize import money
from ivr.tts import EspeakSynthesizer, TtsUnavailable, prerender, render_text, split_segments
from ivr.tts.audio import read_wav, resample, trim_silence

DYNAMIC = "您的户号幺五零二零零零零零幺，当前欠费{}，其中违约金一元整，请及时缴纳。"


def with_synth(tmp_path, body, **kw):
    async def main():
        synth = EspeakSynthesizer(tmp_path / "cache", **kw)
        await synth.start()
        try:
            return await body(synth)
        finally:
            await synth.close()
    return asyncio.run(main())


def test_render_gives_trimmed_8k_mono_wav_and_caches(tmp_path):
    async def body(synth):
        path = await synth.render("您好，欢迎致电九五五九八供电服务热线。")
        mtime = path.stat().st_mtime_ns
        again = await synth.render("您好，欢迎致电九五五九八供电服务热线。")
        return path, mtime, again
    path, mtime, again = with_synth(tmp_path, body, processes=1)
    assert again == path and path.stat().st_mtime_ns == mtime
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() > 8000  # more than a second of speech
    samples, _ = read_wav(path)
    first_loud = np.flatnonzero(np.abs(samples.astype(int)) >= 300)[0]
    assert first_loud <= 0.02 * 8000  # audible at once
    assert not list(path.parent.glob(".tmp-*"))  # atomic write left no temp file


def test_latin_and_empty_text_are_rejected(tmp_path):
    async def body(synth):
        for bad in ("请按OK键", "  "):
            with pytest.raises(ValueError):
                await synth.render(bad)
        return True
    assert with_synth(tmp_path, body, processes=1)


def test_missing_voice_is_tts_unavailable_naming_package(tmp_path):
    with pytest.raises(TtsUnavailable, match="espeak-ng"):
        with_synth(tmp_path, lambda s: asyncio.sleep(0), voice="no-such-voice", processes=1)


def test_render_before_start_is_a_clear_error(tmp_path):
    synth = EspeakSynthesizer(tmp_path)
    with pytest.raises(TtsUnavailable, match="start"):
        asyncio.run(synth.render("您好。"))


def test_dynamic_prompt_latency(tmp_path):
    """Fixed clauses pre-rendered; only the amount clause is new on each call."""
    async def body(synth):
        await prerender(synth, [DYNAMIC.format("")])
        times = []
        for i in range(40):
            text = DYNAMIC.format(money(f"{100 + i}.{i % 100:02d}"))
            started = time.perf_counter()
            files = await render_text(synth, text)
            times.append((time.perf_counter() - started) * 1000)
            assert len(files) == len(split_segments(text)) == 4
        return sorted(times)
    times = with_synth(tmp_path, body, processes=2)
    p50, p95 = times[len(times) // 2], times[int(len(times) * 0.95) - 1]
    print(f"dynamic prompt render p50 {p50:.1f} ms p95 {p95:.1f} ms")
    assert p95 < 100


def test_concurrent_renders_of_same_text_share_one_file(tmp_path):
    async def body(synth):
        return await asyncio.gather(*(synth.render("停电信息查询。") for _ in range(5)))
    paths = with_synth(tmp_path, body, processes=2)
    assert len(set(paths)) == 1 and paths[0].exists()


def test_resample_keeps_tone_and_rejects_alias():
    t = np.arange(22050) / 22050
    tone = 10000 * np.sin(2 * np.pi * 1000 * t)
    out = resample(tone, 22050, 8000)
    assert abs(out.size - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(out[400:-400]))
    freqs = np.fft.rfftfreq(out[400:-400].size, 1 / 8000)
    assert abs(freqs[spectrum.argmax()] - 1000) < 5
    assert 0.9 < np.abs(out[400:-400]).max() / 10000 < 1.1
    high = resample(10000 * np.sin(2 * np.pi * 6000 * t), 22050, 8000)  # would alias to 2 kHz
    assert np.abs(high[400:-400]).max() < 10000 * 0.01


def test_trim_silence():
    x = np.concatenate([np.zeros(4000), np.full(800, 5000.0), np.zeros(8000)])
    y = trim_silence(x, 8000)
    assert y.size == 80 + 800 + 1200
    assert trim_silence(np.zeros(100), 8000).size == 0


def test_split_segments_keeps_punctuation():
    assert split_segments("您好，欢迎致电。再见！") == ["您好，", "欢迎致电。", "再见！"]
