"""``hotline asr-check DIR [--wav F]``: check a Vosk model directory.

Reports the model's sample rate (when the model says or implies it), whether it supports
grammars (runtime phrase lists need a lookahead graph: HCLr.fst + Gr.fst), load time, and,
with a test WAV, a free-text decode with its real-time factor.
"""

from __future__ import annotations

import argparse
import sys
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from asr.audio import read_wav
from asr.engine import ModelError, StreamConfig, VoskStream, inspect_model_dir, load_model


@dataclass
class CheckReport:
    path: str
    ok: bool = False
    error: str | None = None
    sample_rate: int | None = None
    sample_rate_source: str = ""
    supports_grammar: bool | None = None
    graph: str = ""
    load_seconds: float | None = None
    wav: str | None = None
    wav_sample_rate: int | None = None
    wav_seconds: float | None = None
    text: str | None = None
    confidence: float | None = None
    decode_seconds: float | None = None
    words: list[tuple[str, float, float, float]] = field(default_factory=list)

    @property
    def rtf(self) -> float | None:
        if self.decode_seconds is None or not self.wav_seconds:
            return None
        return self.decode_seconds / self.wav_seconds

    def lines(self) -> list[str]:
        out = [f"model         {self.path}"]
        if self.error:
            out.append(f"error         {self.error}")
            return out
        out.append(f"sample rate   {self.sample_rate or 'unknown'} Hz ({self.sample_rate_source})")
        out.append(f"grammar       {'yes' if self.supports_grammar else 'no'} ({self.graph})")
        if self.load_seconds is not None:
            out.append(f"load          {self.load_seconds:.2f} s")
        if self.wav:
            out.append(
                f"decode        {self.wav} ({self.wav_sample_rate} Hz, {self.wav_seconds:.2f} s): "
                f"{self.text!r}"
            )
            conf = "n/a" if self.confidence is None else f"{self.confidence:.2f}"
            out.append(f"              min word confidence {conf}, RTF {self.rtf:.3f}")
        out.append("ok" if self.ok else "failed")
        return out


def check_model(path: str | Path, test_wav: str | Path | None = None) -> CheckReport:
    """Inspect and load the model at ``path`` (the process's one model) and decode ``test_wav``
    (16-bit WAV, any rate: Vosk resamples) in free-text mode."""
    report = CheckReport(path=str(path))
    try:
        info = inspect_model_dir(path)
        report.sample_rate = info.sample_rate
        report.sample_rate_source = info.sample_rate_source
        report.supports_grammar = info.supports_grammar
        report.graph = info.graph
        model = load_model(path)
        report.load_seconds = model.load_seconds
        if test_wav is not None:
            pcm, rate = read_wav(test_wav)
            report.wav, report.wav_sample_rate = str(test_wav), rate
            report.wav_seconds = len(pcm) / 2 / rate
            stream = VoskStream(model, StreamConfig(sample_rate=rate, vad_endpoint=False))
            started = time.perf_counter()
            chunk = rate // 5 * 2
            events = []
            for i in range(0, len(pcm), chunk):
                events += stream.accept(pcm[i : i + chunk])
            events += stream.finish()
            report.decode_seconds = time.perf_counter() - started
            texts = [e.result.text for e in events if e.result is not None and e.result.text]
            words = [w for e in events if e.result is not None for w in e.result.words]
            report.text = " ".join(texts)
            report.words = [(w.word, w.start, w.end, w.conf) for w in words]
            report.confidence = min((w.conf for w in words), default=None)
        report.ok = True
    except ModelError as exc:
        report.error = str(exc)
    except (OSError, ValueError, EOFError, wave.Error) as exc:
        report.error = f"test file {test_wav}: {exc}"
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hotline asr-check", description=__doc__.split("\n")[0])
    parser.add_argument("model", help="Vosk model directory")
    parser.add_argument("--wav", help="16-bit WAV file to decode")
    args = parser.parse_args(argv)
    report = check_model(args.model, args.wav)
    for line in report.lines():
        print(line)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
