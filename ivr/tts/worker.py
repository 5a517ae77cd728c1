"""TTS worker process: one warm pyttsx3 / espeak-ng engine, JSON lines on stdin / stdout.

Started by ``EspeakSynthesizer`` as ``python -m ivr.tts.worker VOICE``. espeak-ng is global to a
process, so each worker owns exactly one engine. Request ``{"id", "text", "path"}``; reply
``{"id", "ok", "ms", "error"}``. The first line sent is ``{"ready": true}`` or the start-up error.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from ivr.tts.audio import read_wav, to_telephone_wav
from ivr.tts.port import TtsUnavailable

DEBIAN_HINT = "install the Debian package espeak-ng (apt-get install espeak-ng)"


class EspeakEngine:
    """pyttsx3 over espeak-ng with the traps handled (voice check, Synchronize, lost files)."""

    def __init__(self, voice: str) -> None:
        try:
            import pyttsx3
            from pyttsx3.drivers import _espeak
        except (ImportError, OSError) as exc:
            raise TtsUnavailable(f"espeak-ng library not found ({exc}): {DEBIAN_HINT}") from exc
        try:
            self._engine = pyttsx3.init("espeak")
        except Exception as exc:
            raise TtsUnavailable(f"espeak-ng could not start ({exc}): {DEBIAN_HINT}") from exc
        self._sync = _espeak.Synchronize
        self.voice_id = self._find_voice(voice)
        self._engine.setProperty("voice", self.voice_id)

    def _find_voice(self, voice: str) -> str:
        wanted = voice.lower()
        for v in self._engine.getProperty("voices"):
            if v.id == wanted or v.id.rsplit("/", 1)[-1] == wanted:
                return v.id
        raise TtsUnavailable(
            f"espeak-ng voice {voice!r} not found: install the Debian packages espeak-ng and "
            "espeak-ng-data (apt-get install espeak-ng)"
        )

    def synth_raw(self, text: str, scratch: Path) -> tuple[Any, int]:
        """22050 Hz samples of ``text``; retries once if the engine lost the file."""
        for _ in range(3):
            scratch.unlink(missing_ok=True)
            self._engine.save_to_file(text, str(scratch))
            self._engine.runAndWait()
            self._sync()
            if scratch.exists() and scratch.stat().st_size > 44:
                samples, rate = read_wav(scratch)
                scratch.unlink(missing_ok=True)
                return samples, rate
        raise RuntimeError(f"espeak-ng produced no audio for {text!r}")


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message, ensure_ascii=False) + "\n")
    out.flush()


def _serve(engine: EspeakEngine, out: IO[str]) -> None:
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"hotline-tts-{os.getpid()}.wav"
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        try:
            raw, rate = engine.synth_raw(request["text"], scratch)
            to_telephone_wav(raw, rate, Path(request["path"]))
            reply = {"id": request["id"], "ok": True}
        except Exception as exc:  # reported to the caller, the worker stays up
            reply = {"id": request["id"], "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        reply["ms"] = round((time.perf_counter() - started) * 1000, 2)
        _send(out, reply)


def main() -> int:
    # The protocol owns the real stdout; pyttsx3 prints "Audio saved to ..." on every file.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        engine = EspeakEngine(sys.argv[1])
    except TtsUnavailable as exc:
        _send(out, {"ready": False, "error": str(exc)})
        return 2
    _send(out, {"ready": True, "voice": engine.voice_id})
    _serve(engine, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
