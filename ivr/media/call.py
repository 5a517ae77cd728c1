"""``MediaCall``: one call leg of the media server, as the ``CallControl`` port."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from ivr.callcontrol import CallControl
from ivr.media import protocol as p

ANSWER_TIMEOUT = 10.0


class CommandSink(Protocol):
    def send_command(self, worker_id: int, command: p.Command) -> bool: ...


class MediaCall(CallControl):
    """Commands go to the leg's worker; events of the leg come out of ``next_event``.

    Every event of the leg is queued, including ``CallAnswered``. Once ``CallHangup`` has
    arrived it stays: ``next_event`` keeps returning it, and the command methods are no-ops.
    """

    def __init__(self, sink: CommandSink, worker_id: int, incoming: p.CallIncoming) -> None:
        self._sink = sink
        self.worker_id = worker_id
        self.call_id = incoming.call_id
        self.sip_call_id = incoming.sip_call_id
        self.caller = incoming.caller
        self.callee = incoming.callee
        self.remote_address = incoming.remote_address
        self.answered = False
        self.hangup_event: p.CallHangup | None = None
        self._events: asyncio.Queue[p.Event] = asyncio.Queue()
        self._settled = asyncio.Event()  # answered or ended
        self._prompts = itertools.count(1)
        self._closing = False

    @property
    def ended(self) -> bool:
        return self.hangup_event is not None

    def __repr__(self) -> str:
        return f"MediaCall({self.call_id}, caller={self.caller!r}, ended={self.ended})"

    # ------------------------------------------------------------------ CallControl

    async def answer(self, record_path: Path | None) -> None:
        """Send 200 OK; return when media is up (``CallAnswered``) or the call has ended."""
        if self.answered or not self._send(p.Answer(self.call_id, _str(record_path))):
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), ANSWER_TIMEOUT)

    async def play(self, files: Sequence[Path]) -> str:
        prompt_id = f"{self.call_id}-p{next(self._prompts)}"
        self._send(p.Play(self.call_id, prompt_id, [str(f) for f in files]))
        return prompt_id

    async def stop_play(self) -> None:
        self._send(p.StopPlay(self.call_id))

    async def hangup(self) -> None:
        if self._send(p.Hangup(self.call_id)):
            self._closing = True

    async def reject(self, code: int = 486, reason: str = "") -> None:
        """Refuse the call before it is answered."""
        if not self.answered and self._send(p.Reject(self.call_id, code, reason)):
            self._closing = True

    async def next_event(self, timeout: float | None = None) -> p.Event | None:
        if self._events.empty() and self.hangup_event is not None:
            return self.hangup_event
        try:
            return await asyncio.wait_for(self._events.get(), timeout)
        except TimeoutError:
            return None

    # ------------------------------------------------------------------ from the server

    def deliver(self, event: p.Event) -> None:
        if self.hangup_event is not None:
            return
        if isinstance(event, p.CallAnswered):
            self.answered = True
            self._settled.set()
        elif isinstance(event, p.CallHangup):
            self.hangup_event = event
            self._settled.set()
        self._events.put_nowait(event)

    def _send(self, command: p.Command) -> bool:
        if self.hangup_event is not None or self._closing:
            return False
        return self._sink.send_command(self.worker_id, command)


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None
