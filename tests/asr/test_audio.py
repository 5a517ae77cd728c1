"""Resampling and VAD on real Mandarin recordings (16 kHz and 8 kHz telephone versions)."""

from __future__ import annotations

import numpy as np
import pytest

from asr.audio import EnergyVad, Resampler, VadConfig, level_dbfs, resample, silence

RECORDINGS = ["aishell_BAC009S0724W0121.wav", "aishell_BAC009S0764W0121.wav"]


def tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 10000) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


@pytest.mark.parametrize(("src", "dst"), [(16000, 8000), (8000, 16000), (44100, 8000)])
def test_resampler_keeps_passband_and_length(src: int, dst: int) -> None:
    out = samples(resample(tone(1000, src), src, dst))
    assert len(out) == dst
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(dst) / dst)
    assert np.abs(out[200:-200] - expected[200:-200]).max() < 60  # < -45 dB error


def test_resampler_removes_what_8k_cannot_carry() -> None:
    out = samples(resample(tone(5000, 16000), 16000, 8000))
    assert level_dbfs(out[200:-200]) < -80  # 5 kHz would alias to 3 kHz


def test_streaming_equals_one_shot() -> None:
    pcm = tone(700, 16000) + tone(2500, 16000, 0.37)
    one_shot = resample(pcm, 16000, 8000)
    r = Resampler(16000, 8000)
    chunks = [r.process(pcm[i : i + 333]) for i in range(0, len(pcm), 333)]  # odd sizes too
    assert b"".join(chunks) + r.flush() == one_shot


@pytest.mark.parametrize("name", RECORDINGS)
def test_16k_recording_to_8k_matches_the_telephone_version(mandarin, name: str) -> None:
    wide, rate = mandarin(name)
    tel, tel_rate = mandarin(f"tel8k_{name}")
    assert (rate, tel_rate) == (16000, 8000)
    ours = samples(resample(wide, 16000, 8000))
    ref = samples(tel)
    assert abs(len(ours) - len(ref)) <= 1
    n = min(len(ours), len(ref))
    # Same signal up to the telephone band-pass and u-law: the 20 ms energy envelopes agree.
    env = [
        np.log10(np.mean(x[: n // 160 * 160].reshape(-1, 160) ** 2, axis=1) + 1)
        for x in (ours, ref)
    ]
    assert np.corrcoef(env[0], env[1])[0, 1] > 0.9


def reference_speech(pcm: bytes, rate: int, below_peak_db: float = 20.0) -> tuple[float, float]:
    """First and last 20 ms frame within ``below_peak_db`` of the loudest frame."""
    x = samples(pcm)
    n = rate // 50
    frames = x[: len(x) // n * n].reshape(-1, n)
    db = 10 * np.log10(np.mean(frames**2, axis=1) / 32768**2 + 1e-12)
    loud = np.flatnonzero(db > db.max() - below_peak_db)
    return loud[0] * 0.02, (loud[-1] + 1) * 0.02


def run_vad(pcm: bytes, rate: int, config: VadConfig, chunk_ms: int = 100):
    vad = EnergyVad(rate, config)
    step = rate * chunk_ms // 1000 * 2
    events = []
    for i in range(0, len(pcm), step):
        events += vad.process(pcm[i : i + step])
    return events


@pytest.mark.parametrize("name", RECORDINGS + [f"tel8k_{n}" for n in RECORDINGS])
@pytest.mark.parametrize("to_8k", [False, True])
def test_vad_finds_the_utterance(mandarin, name: str, to_8k: bool) -> None:
    pcm, rate = mandarin(name)
    if to_8k and rate != 8000:
        pcm, rate = resample(pcm, rate, 8000), 8000
    pcm += silence(1.0, rate)
    # Reference timing from the telephone version (its band-pass removes the 16 kHz files'
    # low-frequency room noise, which is within 20 dB of the quieter recording's speech).
    tel_name = name if name.startswith("tel8k_") else f"tel8k_{name}"
    start_ref, end_ref = reference_speech(mandarin(tel_name)[0], 8000)
    config = VadConfig(min_speech_ms=250, silence_ms=400)
    events = run_vad(pcm, rate, config)
    # One utterance: internal pauses (< 400 ms) do not end it.
    assert [e.kind for e in events] == ["speech_start", "speech_end"], events
    start, end = events
    assert abs(start.time - start_ref) <= 0.15, (start, start_ref)
    assert abs(end.time - end_ref) <= 0.3, (end, end_ref)
    # Barge-in decision after min_speech_ms of speech (+ one 100 ms chunk of feeding).
    assert 0.25 <= start.detected_at - start.time <= 0.25 + 0.1 + 0.1
    # The endpoint fires after the configured silence, to the frame.
    assert end.detected_at - end.time == pytest.approx(0.4, abs=0.021)


def test_vad_endpoint_follows_the_configured_silence(mandarin) -> None:
    pcm, rate = mandarin("tel8k_aishell_BAC009S0724W0121.wav")
    pcm += silence(1.5, rate)
    for silence_ms in (200, 300, 600, 1000):
        events = run_vad(pcm, rate, VadConfig(silence_ms=silence_ms), chunk_ms=20)
        ends = [e for e in events if e.kind == "speech_end"]
        assert ends, silence_ms
        assert ends[-1].detected_at - ends[-1].time == pytest.approx(silence_ms / 1000, abs=0.001)
    # A short pause inside the sentence (~0.2 s around 1.3 s) ends it only when the configured
    # silence is shorter than the pause.
    short = run_vad(pcm, rate, VadConfig(silence_ms=100), chunk_ms=20)
    assert sum(e.kind == "speech_end" for e in short) > 1


def test_min_speech_length_ignores_a_cough() -> None:
    rate = 8000
    burst = tone(300, rate, 0.15, amp=8000)  # 150 ms "cough"
    quiet = silence(0.5, rate)
    assert run_vad(quiet + burst + quiet, rate, VadConfig(min_speech_ms=250)) == []
    long = tone(300, rate, 0.4, amp=8000)
    events = run_vad(quiet + long + quiet, rate, VadConfig(min_speech_ms=250), chunk_ms=20)
    assert events[0].kind == "speech_start"
    assert events[0].time == pytest.approx(0.5, abs=0.021)
    assert events[0].detected_at == pytest.approx(0.75, abs=0.021)


def test_max_speech_forces_an_endpoint() -> None:
    rate = 8000
    pcm = tone(300, rate, 3.0, amp=8000)
    events = run_vad(pcm, rate, VadConfig(max_speech_s=1.0), chunk_ms=20)
    assert [e.kind for e in events][:2] == ["speech_start", "speech_end"]
    assert events[1].detected_at == pytest.approx(1.0, abs=0.041)


def test_vad_handles_empty_and_odd_chunks() -> None:
    vad = EnergyVad(8000)
    assert vad.process(b"") == []
    assert vad.process(b"\x01") == []
    assert vad.process(b"\x00" * 321) == []
