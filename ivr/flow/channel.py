"""The call as the verbs use it: prompts, digits, and the one barge-in rule.

Barge-in: while a barge-in prompt plays, a DTMF event stops it (``stop_play``) and the digit is
kept for the gather or menu that follows; while digits are waiting, barge-in prompts are
skipped (type-ahead). Keys during a prompt that may not be interrupted are dropped. A
``CallHangup`` event at any point raises ``CallHungUp``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from ivr.callcontrol import CallControl, CallHungUp
from ivr.flow.record import CallRecord
from ivr.media.protocol import CallHangup, Dtmf, Event, PromptDone
from ivr.tts.port import Synthesizer
from ivr.tts.segments import render_text

MAX_PENDING_DIGITS = 64  # a DTMF flood cannot grow memory


class Channel:
    def __init__(self, call: CallControl, synth: Synthesizer, record: CallRecord,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.call = call
        self.synth = synth
        self.record = record
        self.pending: deque[str] = deque(maxlen=MAX_PENDING_DIGITS)
        self.hangup_event: CallHangup | None = None
        self._now = monotonic

    def now(self) -> float:
        return self._now()

    async def say(self, text: str, barge_in: bool = True) -> None:
        """Speak ``text`` (already normalised); it goes on the record only if it was played."""
        if barge_in and self.pending:
            return
        files = await render_text(self.synth, text)
        self.record.prompts.append(text)
        await self.play(files, barge_in)

    async def play(self, files: Sequence[Path], barge_in: bool = True) -> None:
        if barge_in and self.pending:
            return
        prompt_id = await self.call.play(files)
        while True:
            event = await self._event(None)
            if isinstance(event, PromptDone) and event.prompt_id == prompt_id:
                return
            if isinstance(event, Dtmf) and barge_in:
                await self.call.stop_play()
                self.pending.append(event.digit)
                return

    async def next_digit(self, timeout: float) -> str | None:
        """The next key (type-ahead first); None after ``timeout`` seconds without one."""
        if self.pending:
            return self.pending.popleft()
        deadline = self._now() + timeout
        while (remaining := deadline - self._now()) > 0:
            event = await self._event(remaining)
            if event is None:
                return None
            if isinstance(event, Dtmf):
                return event.digit
        return None

    async def _event(self, timeout: float | None) -> Event | None:
        event = await self.call.next_event(timeout)
        if isinstance(event, CallHangup):
            self.hangup_event = event
            raise CallHungUp(event.by)
        return event
