"""``hotline asr-check DIR [--wav F]`` (asr.check.main, wired into the CLI by hotline/cli.py)."""

from __future__ import annotations

from pathlib import Path

from asr.audio import write_wav
from asr.check import check_model, main
from asr.engine import MODEL_SETTING


def test_check_korean_model_with_a_wav(
    vosk_model, ko_model_path: Path, korean, tmp_path: Path, capsys
) -> None:
    wav = tmp_path / "ne.wav"
    write_wav(wav, korean("네"), 8000)
    report = check_model(ko_model_path, wav)
    assert report.ok and report.error is None
    assert report.sample_rate == 16000 and "Kaldi default" in report.sample_rate_source
    assert report.supports_grammar is True
    assert report.text == "네" and report.wav_sample_rate == 8000
    assert report.rtf is not None and report.rtf > 0
    assert main([str(ko_model_path), "--wav", str(wav)]) == 0
    out = capsys.readouterr().out
    assert "sample rate   16000 Hz" in out and "grammar       yes" in out and "'네'" in out


def test_check_mandarin_telephone_recording(vosk_model, ko_model_path: Path, mandarin) -> None:
    from tests.asr.conftest import AUDIO_DIR

    report = check_model(ko_model_path, AUDIO_DIR / "tel8k_aishell_BAC009S0724W0121.wav")
    assert report.ok and report.wav_seconds and abs(report.wav_seconds - 4.28) < 0.01


def test_check_missing_model(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out
    assert MODEL_SETTING in out and "vosk-model-small-cn-0.22" in out and "failed" not in out


def test_check_bad_wav(vosk_model, ko_model_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....nonsense")
    report = check_model(ko_model_path, bad)
    assert not report.ok and "test file" in report.error
