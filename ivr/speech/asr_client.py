"""asyncio client of the ASR service (``asr.server``, the public vosk-server websocket protocol).

    client = AsrClient("ws://127.0.0.1:2700")
    stream = await client.open_stream(phrase_list=["查电费", "转人工"])
    stream.send(pcm)                 # 16-bit LE mono PCM at the stream's sample rate
    async for event in stream.results():
        ...                          # Partial / Final
    await stream.finish()            # {"eof": 1}: the last Final, then results() ends

A dead or restarting service raises :class:`AsrUnavailable` at once (connection refused or
reset; a connect never waits more than ``connect_timeout`` <= 1 s), so the IVR can fall back
to keys within 2 s; a hung one after ``answer_timeout`` without an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from asr.engine import AsrUnavailable, Word

__all__ = ["AsrClient", "AsrStream", "AsrUnavailable", "Final", "Partial", "Word"]

CONNECT_TIMEOUT = 1.0
# A hung service (a dead one closes the connection at once). Not lower: in free-text mode the
# Korean model's first decode of an utterance stalls one chunk's answer ~1 s on this machine.
ANSWER_TIMEOUT = 2.0


@dataclass(frozen=True)
class Partial:
    text: str


@dataclass(frozen=True)
class Final:
    """A final result: a segment closed by the endpointer (Vosk's or the silence endpoint), or
    the answer to ``finish()`` (``last``)."""

    text: str
    words: tuple[Word, ...] = ()
    grammar: bool = False
    last: bool = False

    @property
    def confidence(self) -> float | None:
        """Lowest word confidence (None when the model gave no words)."""
        return min((w.conf for w in self.words), default=None)

    @property
    def mode(self) -> str:
        return "grammar" if self.grammar else "free"


AsrResult = Partial | Final


def _final(payload: dict[str, Any], grammar: bool, last: bool) -> Final:
    alternatives = payload.get("alternatives")
    if alternatives and "text" not in payload:
        best = alternatives[0]
        conf = float(best.get("confidence", 0.0))
        words = tuple(
            Word(w["word"], float(w["start"]), float(w["end"]), conf)
            for w in best.get("result", [])
        )
        return Final(best.get("text", ""), words, grammar, last)
    words = tuple(
        Word(w["word"], float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for w in payload.get("result", [])
    )
    return Final(payload.get("text", ""), words, grammar, last)


class AsrStream:
    """One recognition stream = one websocket connection. ``send`` never blocks: chunks are
    queued and written in order by a writer task; ``results`` yields what the service answers."""

    def __init__(self, ws: ClientConnection, grammar: bool, answer_timeout: float) -> None:
        self._ws = ws
        self.grammar = grammar
        self._answer_timeout = answer_timeout
        self._outbox: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self._awaiting = 0  # messages sent whose answer has not arrived
        self._eof_sent = False
        self._done = False
        self._error: AsrUnavailable | None = None
        self._writer = asyncio.create_task(self._write())

    # -- sending -----------------------------------------------------------------------------

    def send(self, pcm: bytes) -> None:
        """Queue a chunk of audio (100-200 ms chunks are the efficient size)."""
        if self._error is not None:
            raise self._error
        if self._eof_sent or self._done:
            raise AsrUnavailable("ASR stream already finished")
        if pcm:
            self._outbox.put_nowait(bytes(pcm))

    async def finish(self) -> None:
        """Send ``{"eof": 1}``: the service answers with the last Final, then closes."""
        if self._error is not None:
            raise self._error
        if not self._eof_sent and not self._done:
            self._eof_sent = True
            self._outbox.put_nowait('{"eof" : 1}')

    async def close(self) -> None:
        """Drop the stream (no final result)."""
        self._done = True
        self._outbox.put_nowait(None)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(), 1.0)

    async def __aenter__(self) -> AsrStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _write(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if item is None:
                    return
                self._awaiting += 1
                await self._ws.send(item)
        except ConnectionClosed as exc:
            self._fail(f"ASR service closed the connection ({exc})")
        except OSError as exc:
            self._fail(f"ASR service connection failed ({exc})")

    def _fail(self, reason: str) -> AsrUnavailable:
        if self._error is None:
            self._error = AsrUnavailable(reason)
        return self._error

    # -- receiving ---------------------------------------------------------------------------

    async def results(self) -> AsyncIterator[AsrResult]:
        """Partial and Final results in order; ends after the Final that answers ``finish()``.
        Raises AsrUnavailable when the service dies, closes the stream or stops answering."""
        last_partial = ""
        while not self._done:
            if self._error is not None:
                raise self._error
            waiting = self._awaiting > 0 or not self._outbox.empty()
            try:
                if waiting:
                    message = await asyncio.wait_for(self._ws.recv(), self._answer_timeout)
                else:  # nothing sent yet: wait for audio as long as the caller likes
                    message = await self._ws.recv()
            except TimeoutError:
                raise self._fail(
                    f"ASR service did not answer within {self._answer_timeout:.1f} s"
                ) from None
            except ConnectionClosed as exc:
                self._done = True
                raise self._fail(f"ASR service closed the stream ({exc})") from None
            self._awaiting = max(0, self._awaiting - 1)
            try:
                payload = json.loads(message)
            except (TypeError, ValueError):
                raise self._fail("ASR service sent a malformed answer") from None
            if "partial" in payload:
                text = payload.get("partial") or ""
                if text != last_partial:
                    last_partial = text
                    yield Partial(text)
                continue
            last_partial = ""
            is_last = self._eof_sent and self._awaiting == 0 and self._outbox.empty()
            final = _final(payload, self.grammar, is_last)
            if is_last:
                self._done = True
                yield final
                return
            if final.text:
                yield final


class AsrClient:
    def __init__(
        self,
        url: str,
        connect_timeout: float = CONNECT_TIMEOUT,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self.url = url
        self.connect_timeout = min(connect_timeout, 1.0)
        self.answer_timeout = answer_timeout

    @classmethod
    def for_port(cls, port: int, host: str = "127.0.0.1", **kwargs: Any) -> AsrClient:
        return cls(f"ws://{host}:{port}", **kwargs)

    async def open_stream(
        self,
        sample_rate: int = 8000,
        phrase_list: Sequence[str] | None = None,
        endpoint_silence_ms: int = 500,
        min_speech_ms: int = 250,
    ) -> AsrStream:
        """Connect and configure a stream. ``phrase_list``: grammar mode (None: free text);
        ``endpoint_silence_ms``: a Final after that much silence following speech (0: only
        Vosk's endpointer); ``min_speech_ms``: shorter noises are not speech."""
        config: dict[str, Any] = {
            "sample_rate": sample_rate,
            "words": True,
            "endpoint_silence_ms": int(endpoint_silence_ms),
            "min_speech_ms": int(min_speech_ms),
        }
        if phrase_list:
            config["phrase_list"] = list(phrase_list)
        try:
            ws = await connect(
                self.url,
                open_timeout=self.connect_timeout,
                compression=None,
                max_size=2**20,
                close_timeout=1.0,
                ping_interval=None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise AsrUnavailable(
                f"ASR service at {self.url} unavailable: {exc or type(exc).__name__}"
            ) from exc
        try:
            await asyncio.wait_for(
                ws.send(json.dumps({"config": config}, ensure_ascii=False)), self.connect_timeout
            )
        except (ConnectionClosed, OSError, TimeoutError) as exc:
            with contextlib.suppress(Exception):
                await ws.close()
            raise AsrUnavailable(f"ASR service at {self.url} closed the stream: {exc}") from exc
        return AsrStream(ws, bool(phrase_list), self.answer_timeout)
