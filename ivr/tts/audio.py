"""WAV helpers: polyphase resampling to 8 kHz, silence trimming, atomic writes (numpy only)."""

from __future__ import annotations

import os
import tempfile
import wave
from functools import cache
from math import gcd
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

TAPS_PER_PHASE = 32
SILENCE_LEVEL = 300  # |sample| below this (about -40 dBFS) counts as silence
LEAD_KEEP_S = 0.01
TAIL_KEEP_S = 0.15


@cache
def _phase_table(src: int, dst: int) -> tuple[np.ndarray, int, int]:
    """Polyphase coefficients (L phases x K taps) of a Kaiser-windowed sinc low-pass."""
    g = gcd(src, dst)
    up, down = dst // g, src // g
    n = up * TAPS_PER_PHASE
    cutoff = 0.45 * min(src, dst) / (src * up)  # cycles per up-rate sample (0.9 x Nyquist)
    t = np.arange(n) - (n - 1) / 2
    h = 2 * cutoff * np.sinc(2 * cutoff * t) * np.kaiser(n, 8.0) * up
    # table[p] holds phase p's taps in time order (oldest input sample first)
    table = h.reshape(TAPS_PER_PHASE, up).T[:, ::-1].astype(np.float32)
    return np.ascontiguousarray(table), up, down


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Resample int16 or float samples from ``src`` Hz to ``dst`` Hz (float32 out).

    Output sample j = r + q * L always uses phase ``r``'s coefficients on a window that moves by
    M input samples per q, so each phase is one strided matrix-vector product (L products)."""
    x = np.asarray(samples, dtype=np.float32)
    if src == dst or x.size == 0:
        return x
    table, up, down = _phase_table(src, dst)
    k = TAPS_PER_PHASE
    count = (x.size * up) // down
    padded = np.concatenate([np.zeros(k, np.float32), x, np.zeros(k + down, np.float32)])
    windows = sliding_window_view(padded, k)
    y = np.empty(count, np.float32)
    delay = (up * k - 1) // 2
    for r in range(min(up, count)):
        t = r * down + delay
        base, phase = t // up, t % up
        n = len(range(r, count, up))
        start = base + 1  # the window ending at padded[base + k] == x[base]
        y[r::up] = windows[start : start + down * n : down] @ table[phase]
    return y


def trim_silence(x: np.ndarray, rate: int) -> np.ndarray:
    """Drop leading silence (keep 10 ms) and cap trailing silence at 150 ms."""
    loud = np.flatnonzero(np.abs(x) >= SILENCE_LEVEL)
    if loud.size == 0:
        return x[:0]
    start = max(0, loud[0] - int(LEAD_KEEP_S * rate))
    end = min(x.size, loud[-1] + 1 + int(TAIL_KEEP_S * rate))
    return x[start:end]


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype("<i2")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: need mono 16-bit PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


def write_wav_atomic(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write a mono 16-bit WAV next to ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
    try:
        with os.fdopen(fd, "wb") as f, wave.open(f, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(to_int16(samples).tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def to_telephone_wav(raw: np.ndarray, src_rate: int, dest: Path, rate: int = 8000) -> float:
    """Resample, trim and write ``dest`` atomically; returns the duration in seconds."""
    y = trim_silence(resample(raw, src_rate, rate), rate)
    write_wav_atomic(dest, y, rate)
    return y.size / rate
