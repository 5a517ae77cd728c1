"""End-to-end harness: the whole product as a subprocess, real SIP callers, the HTTP API.

``Product`` runs ``hotline run`` on its own ports and data dir; ``Caller`` is a pjsua2 caller
process (``pjcaller.py``) driven step by step from the test; ``run_sipp`` runs a SIPp scenario.
Ports: HTTP from a bind to port 0, SIP and RTP from random high blocks checked free (UDP and
TCP) and never handed out twice by this process.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.orm import Session, sessionmaker

from business import services
from business.db import make_engine, make_session_factory
from tests.ports import free_block

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HOTLINE = VENV_BIN / "hotline"
PJCALLER = Path(__file__).with_name("pjcaller.py")
SCENARIOS = Path(__file__).with_name("scenarios")
CHINA = timezone(timedelta(hours=8))

def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``check`` until it returns something truthy; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def china_now() -> datetime:
    return datetime.now(CHINA)


@dataclass
class Ports:
    sip: int
    http: int
    worker_base: int
    rtp_base: int


class Product:
    """One ``hotline run`` process with its own ports, data dir and environment."""

    def __init__(self, data_dir: Path, *, workers: int = 2, env: dict[str, str] | None = None,
                 drain_timeout: float = 20.0) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.drain_timeout = drain_timeout
        sip = free_block(1 + workers)
        self.ports = Ports(sip=sip, http=free_tcp_port(), worker_base=sip + 1,
                           rtp_base=free_block(40 * workers))
        self.extra_env = dict(env or {})
        self.log_path = data_dir / "hotline.log"
        self.proc: subprocess.Popen | None = None
        self.children: dict[int, psutil.Process] = {}
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.ports.http}", timeout=10)
        self._session_factory: sessionmaker[Session] | None = None

    # ---------------------------------------------------------------- lifecycle
    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env.update({
            "HOTLINE_SIP_PORT": str(self.ports.sip),
            "HOTLINE_HTTP_PORT": str(self.ports.http),
            "HOTLINE_WORKER_BASE_PORT": str(self.ports.worker_base),
            "HOTLINE_RTP_BASE_PORT": str(self.ports.rtp_base),
            "HOTLINE_RTP_PORTS_PER_WORKER": "40",
            "HOTLINE_DATA_DIR": str(self.data_dir),
            "HOTLINE_MEDIA_WORKERS": str(self.workers),
            "HOTLINE_LEGS_PER_WORKER": "4",
            "HOTLINE_DRAIN_TIMEOUT_SECONDS": str(self.drain_timeout),
            "HOTLINE_INVITE_RATE_LIMIT": "100",
        })
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 120.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed by the child's exit
        self.proc = subprocess.Popen([str(HOTLINE), "run"], cwd=self.data_dir, env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"hotline exited with {self.proc.returncode} at start-up:\n"
                                     f"{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                health = self.http.get("/api/health").json()
                if health.get("workers_ready") == self.workers and health["media"]["front_alive"]:
                    self.note_children()
                    return
            time.sleep(0.3)
        raise AssertionError(f"hotline not ready after {timeout:g} s:\n{self.log_tail()}")

    def note_children(self) -> None:
        """Remember every descendant (workers, kamailio, TTS) to check none survives."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                self.children.setdefault(child.pid, child)

    def terminate(self) -> None:
        """SIGTERM (the product drains), as an operator would."""
        assert self.proc is not None
        self.note_children()
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hotline still running {timeout:g} s after SIGTERM:\n"
                                 f"{self.log_tail()}") from None

    def stop(self) -> None:
        """Teardown: SIGTERM, a clean exit (0) within the drain limit, no descendant left."""
        if self.proc is None:
            return
        problems: list[str] = []
        try:
            if self.proc.poll() is None:
                self.terminate()
            code = self.wait_exit(self.drain_timeout + 20)
            if code != 0:
                problems.append(f"hotline exited with {code}")
        except AssertionError as exc:
            problems.append(str(exc))
            self._kill_all()
        survivors = self.surviving_children()
        if survivors:
            problems.append(f"child processes survived the product: {survivors}")
            self._kill_all()
        self.http.close()
        if problems:
            raise AssertionError("; ".join(problems) + f"\n{self.log_tail()}")

    def surviving_children(self, grace: float = 5.0) -> list[str]:
        deadline = time.monotonic() + grace
        while True:
            alive = []
            for child in self.children.values():
                with contextlib.suppress(psutil.Error):
                    if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                        alive.append(f"{child.pid} {' '.join(child.cmdline())[:80]}")
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.2)

    def _kill_all(self) -> None:
        """Last resort, only for processes this product started (by pid)."""
        for child in self.children.values():
            with contextlib.suppress(psutil.Error):
                child.kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log_tail(self, chars: int = 6000) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(line for line in text if "alembic" not in line)[-chars:]

    @property
    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    # ---------------------------------------------------------------- HTTP API
    def health(self) -> dict[str, Any]:
        return self.http.get("/api/health").json()

    def calls(self, **params: Any) -> dict[str, Any]:
        reply = self.http.get("/api/calls", params=params)
        reply.raise_for_status()
        return reply.json()

    def active_record(self, sip_call_id: str) -> dict[str, Any] | None:
        for record in self.calls()["active"]:
            if record["sip_call_id"] == sip_call_id:
                return record
        return None

    def record(self, *, sip_call_id: str | None = None, caller: str | None = None,
               finished: bool = True) -> dict[str, Any] | None:
        """A call record from the history (``finished``) or the active list, by Call-ID or caller.

        By caller, only one record may exist: each test uses its own caller numbers."""
        listing = self.calls(caller=caller, limit=500) if caller else self.calls(limit=500)
        pool = listing["history"] if finished else listing["active"] + listing["history"]
        found = [r for r in pool if (sip_call_id is None or r["sip_call_id"] == sip_call_id)
                 and (caller is None or r["caller"] == caller)]
        if finished:
            found = [r for r in found if r["ended_at"]]
        assert len(found) <= 1 or sip_call_id is None, f"several records for {sip_call_id}"
        return found[0] if found else None

    def wait_record(self, *, sip_call_id: str | None = None, caller: str | None = None,
                    timeout: float = 20.0) -> dict[str, Any]:
        """The finished record (written through the journal, so allow for a short delay)."""
        return wait_for(lambda: self.record(sip_call_id=sip_call_id, caller=caller), timeout,
                        f"the finished call record of {sip_call_id or caller}")

    def record_id(self, sip_call_id: str, timeout: float = 10.0) -> str:
        found = wait_for(lambda: self.active_record(sip_call_id), timeout,
                         f"call {sip_call_id} in the active calls")
        return found["id"]

    def live(self, record_id: str) -> dict[str, Any]:
        """A call's record by id (GET /api/calls/{id}: the active one first)."""
        reply = self.http.get(f"/api/calls/{record_id}")
        reply.raise_for_status()
        return reply.json()

    def wait_node(self, record_id: str, node: str, timeout: float = 40.0) -> dict[str, Any]:
        """Wait until the live call has entered ``node`` of the flow."""
        def check() -> dict[str, Any] | None:
            record = self.live(record_id)
            return record if node in record["ivr_path"] else None
        return wait_for(check, timeout, f"call {record_id} to reach node {node!r}")

    def work_orders(self, **params: Any) -> list[dict[str, Any]]:
        reply = self.http.get("/api/work-orders", params={"limit": 500, **params})
        reply.raise_for_status()
        return reply.json()["items"]

    # ---------------------------------------------------------------- database
    @property
    def database_url(self) -> str:
        return self.extra_env.get("HOTLINE_DATABASE_URL") or (
            f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}")

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        if self._session_factory is None:
            self._session_factory = make_session_factory(make_engine(self.database_url))
        with self._session_factory() as session:
            yield session

    def summary(self, account_no: str) -> Any:
        now = china_now()
        with self.session() as s:
            return services.account_summary(s, account_no=account_no, today=now.date(), now=now)

    # ---------------------------------------------------------------- callers
    @property
    def target(self) -> str:
        return f"sip:95598@127.0.0.1:{self.ports.sip}"

    def caller(self, number: str, **kwargs: Any) -> Caller:
        return Caller(self.target, number, **kwargs)


_caller_numbers = itertools.count(1)


def fresh_caller_number(product: Product) -> str:
    """A mobile number that belongs to no account (no caller-number offer) and is unique."""
    while True:
        number = f"177{os.getpid() % 10000:04d}{next(_caller_numbers):04d}"
        with product.session() as s:
            if not services.accounts_for_phone(s, phone=number):
                return number


class Caller:
    """A pjsua2 caller process, driven step by step (``send``) or by a fixed script."""

    def __init__(self, target: str, number: str, *, script: str | None = None,
                 linger: float = 30.0) -> None:
        self.number = number
        args = [sys.executable, str(PJCALLER), "--target", target, "--caller", number,
                "--rtp-port", str(free_block(4)), "--linger", str(linger)]
        args += ["--script", script] if script is not None else ["--interactive"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.call_id: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))
        self.events.put({"event": "eof"})

    def wait_event(self, name: str, timeout: float = 15.0) -> dict[str, Any]:
        for event in self.seen:
            if event["event"] == name:
                return event
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"caller {self.number}: no {name!r} within {timeout:g} s "
                                     f"(saw {self.seen})") from None
            self.seen.append(event)
            if event["event"] == "calling":
                self.call_id = event["call_id"]
            if event["event"] == name:
                return event
            if event["event"] == "eof":
                raise AssertionError(f"caller {self.number} ended before {name!r}: {self.seen}\n"
                                     f"{self.stderr_tail()}")

    def connected(self, timeout: float = 15.0) -> str:
        """Wait for the call to be answered; returns its SIP Call-ID."""
        self.wait_event("confirmed", timeout)
        assert self.call_id
        return self.call_id

    def send(self, *steps: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(" ".join(steps) + "\n")
        self.proc.stdin.flush()

    def dtmf(self, digits: str) -> None:
        self.send(f"dtmf:{digits}")

    def hangup(self) -> dict[str, Any]:
        self.send("hangup", "end")
        return self.result()

    def result(self, timeout: float = 120.0) -> dict[str, Any]:
        """The caller's final JSON line (closing its step input first)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            return self.wait_event("result", timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()[-2000:]


@dataclass
class SippResult:
    returncode: int
    stdout: str
    errors: str
    messages: str

    def describe(self) -> str:
        return f"sipp rc={self.returncode}\n{self.errors[-3000:]}\n{self.stdout[-1500:]}"


PCAPS = Path("/usr/share/sip-tester")
_PCAP_NAMES = {**{d: f"dtmf_2833_{d}.pcap" for d in "0123456789"},
               "#": "dtmf_2833_pound.pcap", "*": "dtmf_2833_star.pcap"}


def press_pcaps(workdir: Path, presses: str) -> None:
    """``press_01.pcap`` ... one per key press, copied from SIPp's ``dtmf_2833_*.pcap``.

    Each of SIPp's pcaps holds one RFC 4733 event at a fixed RTP timestamp, so the same digit
    twice would be the same event to a receiver (RFC 4733 2.5.1.4). Like a phone, every press
    gets its own timestamp (and sequence numbers); the packets are otherwise unchanged.
    """
    for n, key in enumerate(presses, start=1):
        data = bytearray((PCAPS / _PCAP_NAMES[key]).read_bytes())
        offset, index = 24, 0
        while offset + 16 <= len(data):
            caplen = struct.unpack_from("<I", data, offset + 8)[0]
            packet = offset + 16
            rtp = packet + 14 + (data[packet + 14] & 0x0F) * 4 + 8
            struct.pack_into(">HI", data, rtp + 2, (n * 100 + index) & 0xFFFF, n * 16000)
            offset, index = packet + caplen, index + 1
        (workdir / f"press_{n:02d}.pcap").write_bytes(bytes(data))


def run_sipp(scenario: str, target_port: int, workdir: Path, *, keys: dict[str, str],
             presses: str = "", timeout: float = 90.0) -> SippResult:
    """One SIPp call (UAC) through ``scenario``; returncode 0 means the scenario completed.

    ``presses``: the keys the scenario plays, in order, as ``press_NN.pcap`` in its cwd."""
    sip_port, media_port = free_block(1), free_block(4)
    workdir.mkdir(parents=True, exist_ok=True)
    press_pcaps(workdir, presses)
    error_file, message_file = workdir / "errors.log", workdir / "messages.log"
    args = ["sipp", f"127.0.0.1:{target_port}", "-sf", str(SCENARIOS / scenario), "-m", "1",
            "-i", "127.0.0.1", "-p", str(sip_port), "-mi", "127.0.0.1", "-mp", str(media_port),
            "-s", "95598", "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin",
            "-trace_err", "-error_file", str(error_file),
            "-trace_msg", "-message_file", str(message_file)]
    for key, value in keys.items():
        args += ["-key", key, value]
    proc = subprocess.run(args, cwd=workdir, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout + 30)
    return SippResult(proc.returncode, proc.stdout + proc.stderr, _read(error_file),
                      _read(message_file))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
