"""EspeakSynthesizer: the Synthesizer adapter over pyttsx3 + espeak-ng worker processes."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import sys
from pathlib import Path

from ivr.normalize import has_latin
from ivr.tts.port import Synthesizer, TtsUnavailable

log = logging.getLogger(__name__)
START_TIMEOUT_S = 20.0


def cache_path(cache_dir: Path, voice: str, text: str) -> Path:
    digest = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:32]
    return cache_dir / digest[:2] / f"{digest}.wav"


class _Worker:
    """One ``ivr.tts.worker`` process; one request at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._ids = itertools.count(1)

    @classmethod
    async def spawn(cls, voice: str) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ivr.tts.worker", voice,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches only the main process, which drains first
        )
        worker = cls(proc)
        hello = await worker._read(START_TIMEOUT_S)
        if not hello.get("ready"):
            await worker.close()
            raise TtsUnavailable(hello.get("error", "TTS worker failed to start"))
        return worker

    async def _read(self, timeout: float | None) -> dict:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise TtsUnavailable("TTS worker exited (is espeak-ng installed?)")
        return json.loads(line)

    async def render(self, text: str, path: Path) -> float:
        assert self.proc.stdin is not None
        request = {"id": next(self._ids), "text": text, "path": str(path)}
        self.proc.stdin.write(json.dumps(request, ensure_ascii=False).encode() + b"\n")
        await self.proc.stdin.drain()
        reply = await self._read(None)
        if not reply.get("ok"):
            raise RuntimeError(f"TTS failed for {text!r}: {reply.get('error')}")
        return float(reply["ms"])

    async def close(self) -> None:
        if self.proc.returncode is None:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 2.0)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class EspeakSynthesizer(Synthesizer):
    """Warm espeak-ng engines in ``processes`` worker processes, with a WAV cache on disk."""

    def __init__(self, cache_dir: Path, voice: str = "cmn-latn-pinyin", processes: int = 2):
        if processes < 1:
            raise ValueError("processes must be >= 1")
        self.voice = voice
        self.cache_dir = Path(cache_dir)
        self.processes = processes
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: list[_Worker] = []
        self._inflight: dict[Path, asyncio.Future[Path]] = {}
        self.last_render_ms: float | None = None

    async def start(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(self.processes):
            worker = await _Worker.spawn(self.voice)
            self._workers.append(worker)
            self._idle.put_nowait(worker)

    async def close(self) -> None:
        for worker in self._workers:
            await worker.close()
        self._workers.clear()

    async def render(self, text: str) -> Path:
        text = _checked(text)
        path = cache_path(self.cache_dir, self.voice, text)
        if path.exists():
            return path
        pending = self._inflight.get(path)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._inflight[path] = future
        try:
            await self._render_new(text, path)
            future.set_result(path)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters (if any) re-raise it
            raise
        finally:
            del self._inflight[path]
        return path

    async def _render_new(self, text: str, path: Path) -> None:
        if not self._workers:
            raise TtsUnavailable("synthesizer not started (call start() first)")
        worker = await self._idle.get()
        try:
            self.last_render_ms = await worker.render(text, path)
        finally:
            self._idle.put_nowait(worker)


def _checked(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValueError("nothing to synthesise: empty text")
    if has_latin(text):
        raise ValueError(f"Latin letters would be read in English; normalise first: {text!r}")
    return text
