"""Fixtures for the benchmark tools' tests: sipp stand-in callees and the stand-in IVR."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks import sipp
from benchmarks.sipcaller import PCMA
from benchmarks.standin_ivr import comfort_noise, frames_of, write_rtp_pcap

ROOT = Path(__file__).resolve().parents[2]

needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None,
                                reason="sipp missing: apt-get install -y sip-tester")


@pytest.fixture
def prompt_pcap(tmp_path) -> Path:
    """0.5 s comfort noise (-70 dBFS), 1 s tone (-17 dBFS), 0.3 s comfort noise, as PCMA."""
    t = np.arange(8000) / 8000
    tone = (0.2 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    pcm = np.concatenate([comfort_noise(seconds=0.5), tone, comfort_noise(seconds=0.3)])
    path = tmp_path / "prompt.pcap"
    write_rtp_pcap(str(path), frames_of(pcm, PCMA), PCMA)
    return path


class SippUas:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.runs: list[sipp.Sipp] = []

    def start(self, xml: str, extra: list[str] | None = None, calls: int = 1) -> int:
        scen = self.tmp_path / f"uas{len(self.runs)}.xml"
        scen.write_text(xml)
        port = sipp.free_udp_port()
        args = ["-i", "127.0.0.1", "-p", str(port), "-mi", "127.0.0.1",
                "-mp", str(sipp.free_udp_port(pair=True)), "-m", str(calls), *(extra or [])]
        run = sipp.Sipp(scen, self.tmp_path, args, timeout_s=30).start()
        self.runs.append(run)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not self._listening(port):
            time.sleep(0.05)
        return port

    @staticmethod
    def _listening(port: int) -> bool:
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True
        finally:
            s.close()


@pytest.fixture
def sipp_uas(tmp_path):
    uas = SippUas(tmp_path)
    yield uas
    for run in uas.runs:
        run.stop()


@pytest.fixture
def standin(tmp_path):
    """Start the stand-in IVR as a child process: standin(delay_ms=...) -> (port, Popen)."""
    procs = []

    def start(delay_ms: float = 0.0, lead_ms: float = 0.0, run_s: float = 120.0,
              prompt_scale: float = 0.3, max_calls: int = 500):
        port = sipp.free_udp_port()
        log = open(tmp_path / f"standin{len(procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.standin_ivr", "--port", str(port),
             "--delay-ms", str(delay_ms), "--lead-ms", str(lead_ms), "--run-s", str(run_s),
             "--prompt-scale", str(prompt_scale), "--max-calls", str(max_calls)],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        procs.append((proc, log))
        proc.log_path = tmp_path / f"standin{len(procs) - 1}.log"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not SippUas._listening(port):
            time.sleep(0.05)
        return port, proc

    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
