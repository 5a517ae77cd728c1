"""Text to speech: the Synthesizer port, the espeak-ng adapter, sentence segmentation."""

from ivr.tts.espeak import EspeakSynthesizer, cache_path
from ivr.tts.port import SAMPLE_RATE, Synthesizer, TtsUnavailable
from ivr.tts.segments import prerender, render_text, split_segments

__all__ = [
    "SAMPLE_RATE",
    "EspeakSynthesizer",
    "Synthesizer",
    "TtsUnavailable",
    "cache_path",
    "prerender",
    "render_text",
    "split_segments",
]
