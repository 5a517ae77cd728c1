"""The worker's side of the control connection: a reader thread and a line writer.

The reader thread never touches pjsua2: it only turns JSON lines into commands on a queue
that the pj thread drains between ``libHandleEvents`` calls.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time

from ivr.media import protocol
from ivr.media.protocol import Command, Event

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024


class ConnectionLost:
    """Queued by the reader when the controller goes away."""


class BadCommand:
    def __init__(self, message: str) -> None:
        self.message = message


QueueItem = Command | ConnectionLost | BadCommand


class ControlChannel:
    def __init__(self, host: str, port: int, connect_timeout: float = 10.0) -> None:
        self.commands: queue.SimpleQueue[QueueItem] = queue.SimpleQueue()
        self._sock = _connect(host, port, connect_timeout)
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name="control-reader", daemon=True)
        self.alive = True

    def start(self) -> None:
        self._reader.start()

    def send(self, event: Event) -> None:
        if not self.alive:
            return
        data = protocol.encode(event)
        try:
            with self._write_lock:
                self._sock.sendall(data)
        except OSError as exc:
            log.warning("control connection lost on send: %s", exc)
            self._lost()

    def close(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    def _lost(self) -> None:
        if self.alive:
            self.alive = False
            self.commands.put(ConnectionLost())

    def _read_loop(self) -> None:
        reader = self._sock.makefile("rb")
        try:
            while True:
                line = reader.readline(MAX_LINE)
                if not line:
                    break
                if line.strip():
                    self.commands.put(_decode(line))
        except (OSError, ValueError) as exc:
            log.warning("control connection read error: %s", exc)
        self._lost()


def _decode(line: bytes) -> QueueItem:
    try:
        return protocol.decode_command(line)
    except (ValueError, TypeError) as exc:
        return BadCommand(str(exc)[:300])


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5.0)
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
