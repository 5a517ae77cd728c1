"""Long prompts are spoken as clauses: fixed clauses come from the cache, only the clauses
holding amounts or numbers are rendered while the caller waits, all of them in parallel."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from pathlib import Path

from ivr.tts.port import Synthesizer

_CLAUSE = re.compile(r"[^，。！？；：,!?;]+[，。！？；：,!?;]*")


def split_segments(text: str) -> list[str]:
    """Clauses ending at Chinese punctuation, each keeping its mark (so its pause)."""
    return [m.group(0).strip() for m in _CLAUSE.finditer(text) if m.group(0).strip(" ，。")]


async def render_text(synth: Synthesizer, text: str) -> list[Path]:
    """WAV files, in order, that together speak ``text``."""
    return list(await asyncio.gather(*(synth.render(s) for s in split_segments(text))))


async def prerender(synth: Synthesizer, texts: Iterable[str]) -> int:
    """Render (or find cached) every clause of ``texts``; returns the number of clauses."""
    clauses = sorted({s for t in texts for s in split_segments(t)})
    await asyncio.gather(*(synth.render(s) for s in clauses))
    return len(clauses)
