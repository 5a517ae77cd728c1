"""One worker process driven directly over its control connection (no front, no server)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ivr.media import protocol as p
from tests.ports import free_block

pytestmark = pytest.mark.sip


class ControlPeer:
    """A bare control listener standing in for the MediaServer."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(20)
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None
        self.reader = None

    def accept(self) -> None:
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(10)
        self.reader = self.conn.makefile("rb")

    def send(self, data: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(data)

    def event(self) -> p.Event:
        return p.decode_event(self.reader.readline())

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


def spawn_worker(peer: ControlPeer, tmp_path: Path) -> subprocess.Popen:
    sip_port, rtp_port = free_block(1), free_block(20)
    args = [sys.executable, "-m", "ivr.media.worker", "--worker-id", "3",
            "--sip-port", str(sip_port), "--rtp-port", str(rtp_port), "--rtp-port-range", "20",
            "--control-port", str(peer.port), "--log-file", str(tmp_path / "worker.log")]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def worker(tmp_path: Path):  # type: ignore[no-untyped-def]
    peer = ControlPeer()
    proc = spawn_worker(peer, tmp_path)
    peer.accept()
    yield peer, proc
    peer.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_ready_bad_commands_and_shutdown(worker) -> None:  # type: ignore[no-untyped-def]
    peer, proc = worker
    ready = peer.event()
    assert isinstance(ready, p.WorkerReady)
    assert (ready.worker_id, ready.max_legs, ready.pid) == (3, 4, proc.pid)
    peer.send(b"this is not json\n")
    peer.send(b'{"type": "launch_missiles"}\n')
    for command in (p.Play("w3.0-99", "x", ["/nonexistent.wav"]), p.StopPlay("nope"),
                    p.Hangup("nope"), p.Answer("nope", "/tmp/x.wav"), p.Reject("nope")):
        peer.send(p.encode(command))
    errors = [peer.event() for _ in range(7)]
    assert all(isinstance(e, p.WorkerError) for e in errors), errors
    assert "nope" in errors[-1].call_id and "unknown" in errors[-1].message
    assert proc.poll() is None
    peer.send(p.encode(p.Drain()))
    peer.send(p.encode(p.Shutdown()))
    assert proc.wait(timeout=10) == 0


def test_lost_control_connection_stops_the_worker(worker) -> None:  # type: ignore[no-untyped-def]
    peer, proc = worker
    assert isinstance(peer.event(), p.WorkerReady)
    peer.conn.shutdown(socket.SHUT_RDWR)
    assert proc.wait(timeout=10) == 0


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "ivr.media.worker", "--control-port", "1", "--max-legs", "0"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert "max_legs must be >= 1" in done.stderr
