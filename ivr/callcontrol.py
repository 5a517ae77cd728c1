"""The CallControl port: one call leg as the IVR flow interpreter sees it.

Adapters: ``ivr.media.server.MediaCall`` (the pjsua2 media workers, over the command/event
protocol) and ``ivr.testing.FakeCallControl`` (scripted events, for unit tests).
Flows never see anything below this port.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path

from ivr.media.protocol import Event


class CallHungUp(Exception):
    """Raised inside a flow when the caller (or the system) has hung up."""


class CallControl(ABC):
    call_id: str  # media leg id
    sip_call_id: str
    caller: str  # caller's number (user part of From)
    callee: str

    @abstractmethod
    async def answer(self, record_path: Path | None) -> None:
        """Answer the call and record both directions into ``record_path``."""

    @abstractmethod
    async def play(self, files: Sequence[Path]) -> str:
        """Start playing ``files`` back to back; return the prompt id.

        Returns at once; the end of the prompt arrives as a ``PromptDone`` event."""

    @abstractmethod
    async def stop_play(self) -> None:
        """Stop the current prompt (its ``PromptDone`` arrives with interrupted=True)."""

    @abstractmethod
    async def hangup(self) -> None:
        """Hang up from our side. Safe to call on a call that already ended."""

    @abstractmethod
    async def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event of this leg (``Dtmf``, ``PromptDone``, ``CallHangup`` ...).

        ``None`` when ``timeout`` seconds pass with no event."""
