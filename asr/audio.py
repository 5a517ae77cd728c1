"""Audio plumbing for the ASR service: PCM helpers, a streaming resampler and an energy VAD.

Everything here works on 16-bit little-endian mono PCM (what pjsua2's ``AudioMediaPort`` and
the vosk-server protocol carry) and needs numpy only, so the media workers can run the VAD on
their own frames (barge-in) without the ASR service.
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

TELEPHONE_RATE = 8000


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """(PCM s16le mono, sample rate) of a 16-bit WAV file; the first channel of a multi-channel
    file."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: {8 * wav.getsampwidth()}-bit WAV; 16-bit PCM expected")
        channels = wav.getnchannels()
        rate = wav.getframerate()
        data = wav.readframes(wav.getnframes())
    if channels > 1:
        data = np.frombuffer(data, dtype="<i2")[::channels].tobytes()
    return data, rate


def write_wav(path: str | Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


def duration(pcm: bytes, rate: int) -> float:
    return len(pcm) / 2 / rate


def silence(seconds: float, rate: int) -> bytes:
    return b"\0\0" * round(seconds * rate)


class Resampler:
    """Streaming band-limited resampler for any rational ratio (16000 -> 8000, 8000 -> 16000,
    44100 -> 8000 ...): a Kaiser-windowed sinc, polyphase. Feeding a signal in chunks gives the
    same samples as feeding it at once; :meth:`flush` returns the tail held back for the filter.
    The output is delayed by nothing: sample k is the input at time k / dst_rate."""

    def __init__(self, src_rate: int, dst_rate: int, half_taps: int = 16, beta: float = 8.0):
        if src_rate <= 0 or dst_rate <= 0:
            raise ValueError("sample rates must be positive")
        ratio = Fraction(dst_rate, src_rate)
        self.src_rate, self.dst_rate = src_rate, dst_rate
        self._up, self._down = ratio.numerator, ratio.denominator
        cutoff = min(1.0, self._up / self._down) * 0.92  # of the input Nyquist
        # The filter's half length grows with the decimation factor to keep the transition band.
        self._half = half_taps * max(1, math.ceil(self._down / self._up))
        offsets = np.arange(-self._half + 1, self._half + 1)  # input taps around floor(t)
        phases = np.arange(self._up) / self._up  # fractional part of t
        x = phases[:, None] - offsets[None, :]  # distance from t to each tap
        window = np.kaiser(2 * self._half + 1, beta)
        # Kaiser window sampled at the continuous position x (centred, support +-half).
        wpos = np.clip(x / self._half, -1.0, 1.0)
        w = np.interp(wpos, np.linspace(-1, 1, window.size), window)
        self._bank = (cutoff * np.sinc(cutoff * x) * w).astype(np.float64)  # (up, 2*half)
        self._offsets = offsets
        self._buf = np.zeros(self._half, dtype=np.float64)  # history; index 0 = input -half
        self._base = -self._half  # input index of _buf[0]
        self._k = 0  # next output sample
        self._remainder = b""

    def process(self, pcm: bytes) -> bytes:
        if self._up == self._down:
            return pcm
        data = self._remainder + pcm
        if len(data) % 2:
            data, self._remainder = data[:-1], data[-1:]
        else:
            self._remainder = b""
        if data:
            self._buf = np.concatenate([self._buf, np.frombuffer(data, dtype="<i2")])
        return self._run(final=False)

    def flush(self) -> bytes:
        if self._up == self._down:
            return b""
        self._buf = np.concatenate([self._buf, np.zeros(self._half)])
        end_input = self._base + self._buf.size - self._half  # real input samples seen
        out = self._run(final=True, end_input=end_input)
        return out

    def _run(self, final: bool, end_input: int | None = None) -> bytes:
        available = self._base + self._buf.size  # input indices < available are in the buffer
        # Output k needs inputs up to floor(k*down/up) + half.
        last_k = ((available - self._half) * self._up - 1) // self._down
        if final and end_input is not None:
            last_k = min(last_k, (end_input * self._up - 1) // self._down)
        if last_k < self._k:
            return b""
        ks = np.arange(self._k, last_k + 1)
        num = ks * self._down
        n0 = num // self._up
        phase = num % self._up
        idx = (n0 - self._base)[:, None] + self._offsets[None, :]
        y = np.einsum("ij,ij->i", self._buf[idx], self._bank[phase])
        self._k = int(last_k) + 1
        # Drop history no longer needed by the next output.
        keep_from = (self._k * self._down) // self._up - self._half + 1 - self._base
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._base += keep_from
        return np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """One-shot :class:`Resampler` (e.g. 16 kHz recordings to 8 kHz telephone audio)."""
    if src_rate == dst_rate:
        return pcm
    r = Resampler(src_rate, dst_rate)
    return r.process(pcm) + r.flush()


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dBFS (-100 for digital silence)."""
    if samples.size == 0:
        return -100.0
    power = float(np.mean(np.square(samples.astype(np.float64)))) / (32768.0**2)
    return max(-100.0, 10.0 * math.log10(power)) if power > 0 else -100.0


@dataclass(frozen=True)
class VadConfig:
    frame_ms: int = 20
    # Speech must last this long before it counts (barge-in): a cough or a short "嗯" does not.
    min_speech_ms: int = 250
    # Silence after speech that ends the utterance (the endpoint).
    silence_ms: int = 300
    # Gaps shorter than this inside a not-yet-confirmed speech start are bridged.
    max_gap_ms: int = 100
    # A frame is speech when it is margin_db above the tracked noise floor and above floor_db.
    margin_db: float = 12.0
    floor_db: float = -60.0
    # The noise floor follows quieter frames at once and louder ones at this rate.
    floor_rise_db_per_s: float = 2.5
    # Forced endpoint for speech that never stops.
    max_speech_s: float = 20.0


@dataclass(frozen=True)
class VadEvent:
    kind: str  # "speech_start" | "speech_end"
    time: float  # seconds of stream audio: start of speech, or end of the last speech frame
    detected_at: float  # seconds of stream audio when the decision was made


class EnergyVad:
    """Frame-energy voice activity detector with an adaptive noise floor.

    ``speech_start`` is reported once ``min_speech_ms`` of speech has been heard (its ``time`` is
    where that speech began); ``speech_end`` once ``silence_ms`` of silence followed it (its
    ``time`` is the end of the last speech frame, ``detected_at`` = time + silence_ms)."""

    def __init__(self, sample_rate: int = TELEPHONE_RATE, config: VadConfig | None = None):
        self.config = config or VadConfig()
        self.sample_rate = sample_rate
        self._frame = sample_rate * self.config.frame_ms // 1000
        self._pending = b""
        self._frames = 0
        self._floor: float | None = None
        self.in_speech = False
        self._cand_start: int | None = None  # frame index of candidate speech start
        self._cand_speech = 0
        self._gap = 0
        self._last_speech = 0  # frame index after the last speech frame
        self._speech_start = 0

    @property
    def time(self) -> float:
        return self._frames * self.config.frame_ms / 1000

    def _t(self, frames: int) -> float:
        return frames * self.config.frame_ms / 1000

    def process(self, pcm: bytes) -> list[VadEvent]:
        data = self._pending + pcm
        step = 2 * self._frame
        usable = len(data) - len(data) % step
        self._pending = data[usable:]
        if not usable:
            return []
        frames = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, self._frame)
        power = np.mean(np.square(frames.astype(np.float64)), axis=1) / (32768.0**2)
        levels = np.maximum(-100.0, 10.0 * np.log10(np.maximum(power, 1e-10)))
        events: list[VadEvent] = []
        for level in levels.tolist():
            self._frame_decision(level, events)
        return events

    def _frame_decision(self, level: float, events: list[VadEvent]) -> None:
        c = self.config
        rise = c.floor_rise_db_per_s * c.frame_ms / 1000
        if self._floor is None:
            self._floor = min(level, -50.0)
        elif level < self._floor:
            self._floor = level
        else:
            self._floor += min(level - self._floor, rise)
        threshold = max(self._floor + c.margin_db, c.floor_db)
        if self.in_speech:
            threshold -= 3.0  # hysteresis
        speech = level > threshold
        i = self._frames
        self._frames += 1
        ms = c.frame_ms
        if not self.in_speech:
            if speech:
                if self._cand_start is None:
                    self._cand_start = i
                    self._cand_speech = 0
                self._cand_speech += 1
                self._gap = 0
                if self._cand_speech * ms >= c.min_speech_ms:
                    self.in_speech = True
                    self._speech_start = self._cand_start
                    self._last_speech = i + 1
                    self._cand_start = None
                    events.append(VadEvent("speech_start", self._t(self._speech_start), self.time))
            elif self._cand_start is not None:
                self._gap += 1
                if self._gap * ms > c.max_gap_ms:
                    self._cand_start = None
            return
        if speech:
            self._last_speech = i + 1
        trailing = (self._frames - self._last_speech) * ms
        too_long = (self._frames - self._speech_start) * ms >= c.max_speech_s * 1000
        if trailing >= c.silence_ms or too_long:
            self.in_speech = False
            end = self._frames if too_long and trailing < c.silence_ms else self._last_speech
            events.append(VadEvent("speech_end", self._t(end), self.time))
