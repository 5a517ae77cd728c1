"""The Synthesizer port: Chinese text in, an 8 kHz mono 16-bit PCM WAV file out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

SAMPLE_RATE = 8000


class TtsUnavailable(RuntimeError):
    """The speech engine (or its voice) is missing; raised at start-up, not during a call."""


class Synthesizer(ABC):
    voice: str

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Start the engine; raise ``TtsUnavailable`` when it cannot speak."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Stop the engine and any process it started."""

    @abstractmethod
    async def render(self, text: str) -> Path:
        """A WAV file (8 kHz mono 16-bit) speaking ``text``; cached by (voice, text)."""
