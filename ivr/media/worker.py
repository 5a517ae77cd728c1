"""One pjsua2 media worker process: ``python -m ivr.media.worker --config worker.json``.

The main thread is the only pj thread. It alternates ``libHandleEvents`` with draining the
command queue filled by the control reader thread, and writes events back as JSON lines.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from collections import deque
from pathlib import Path

import pjsua2 as pj

from ivr.media import protocol as p
from ivr.media.config import WorkerConfig, parse_args
from ivr.media.control import BadCommand, ConnectionLost, ControlChannel
from ivr.media.endpoint import account_config, create_endpoint
from ivr.media.leg import Leg, uri_user

log = logging.getLogger("ivr.media.worker")

POLL_MS = 5
TICK_SECONDS = 0.2
RTP_CHECK_SECONDS = 1.0
RELEASE_DELAY = 0.5
SHUTDOWN_GRACE = 2.0
WAV_CLOSE_WAIT = 0.5


class WorkerAccount(pj.Account):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:  # noqa: N802
        self.worker.on_incoming(prm)


class WorkerEndpoint(pj.Endpoint):
    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.worker = worker

    def onRejectedIncomingCall(self, prm: pj.OnRejectedIncomingCallParam) -> None:  # noqa: N802
        self.worker.on_library_rejected(prm)


class Worker:
    def __init__(self, config: WorkerConfig, control: ControlChannel) -> None:
        self.config = config
        self.control = control
        self.dtmf_per_second = config.dtmf_per_second
        self.trusted = {config.bind_address, config.public_address, *config.trusted_sources}
        self.ep = WorkerEndpoint(self)
        self.account: WorkerAccount | None = None
        self.legs: dict[str, Leg] = {}  # strong refs: a GC'd Call answers 603
        self.refused: list[Leg] = []
        self.eofs: deque[tuple[str, str]] = deque()
        self.disconnected: deque[Leg] = deque()
        self.graveyard: deque[tuple[float, object]] = deque()
        self.hangups: list[tuple[float, str, p.CallHangup]] = []
        self.draining = False
        self.stopping = False
        self._seq = 0
        self._next_tick = 0.0
        self._next_rtp_check = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        create_endpoint(self.ep, self.config)
        self.account = WorkerAccount(self)
        self.account.create(account_config(self.config))
        self.control.start()
        self.emit(
            p.WorkerReady(self.config.worker_id, self.config.sip_port, self.config.max_legs,
                          os.getpid())
        )
        log.info("worker %s ready on %s:%s", self.config.worker_id,
                 self.config.bind_address, self.config.sip_port)

    def run(self) -> None:
        while not self.stopping:
            self.ep.libHandleEvents(POLL_MS)
            self.step()
        self.shutdown()

    def step(self) -> None:
        self._drain_commands()
        self._drain_eofs()
        self._drain_disconnected()
        now = time.monotonic()
        if self.hangups:
            self._emit_hangups(now)
        if now >= self._next_tick:
            self._next_tick = now + TICK_SECONDS
            self._check_timers(now)
        self._reap(now)

    def shutdown(self) -> None:
        log.info("worker %s shutting down", self.config.worker_id)
        self.draining = True
        for leg in list(self.legs.values()):
            self._safe(leg.end, "system", 503, "shutdown")
        deadline = time.monotonic() + SHUTDOWN_GRACE
        while (self.legs or self.refused) and time.monotonic() < deadline:
            self.ep.libHandleEvents(20)
            self._drain_disconnected()
            self._drain_eofs()
        for leg in list(self.legs.values()):
            leg.close_media()
        for _, _, event in self.hangups:
            self.emit(event)
        self.hangups.clear()
        self.eofs.clear()
        self.legs.clear()
        self.refused.clear()
        self.disconnected.clear()
        self.graveyard.clear()
        if self.account is not None:
            self._safe(self.account.shutdown)
        self.account = None
        gc.collect()
        self.ep.libDestroy()
        self.control.close()

    # ------------------------------------------------------------------ events out

    def emit(self, event: p.Event) -> None:
        self.control.send(event)

    def release_later(self, obj: object) -> None:
        self.graveyard.append((time.monotonic() + RELEASE_DELAY, obj))

    def leg_disconnected(self, leg: Leg) -> None:
        self.disconnected.append(leg)

    # ------------------------------------------------------------------ incoming calls

    def on_incoming(self, prm: pj.OnIncomingCallParam) -> None:
        self._seq += 1
        leg_id = f"w{self.config.worker_id}.{self.config.generation}-{self._seq}"
        leg = Leg(self, self.account, prm.callId, leg_id)
        source = prm.rdata.srcAddress
        ci = leg.info()
        code, reason = self._admission(_host(source))
        if code:
            leg.state.refused = True
            self.refused.append(leg)
            self._safe(leg.respond, code, reason)
            self.emit(p.CallRejected(ci.callIdString, source, code, reason))
            return
        self.legs[leg_id] = leg
        self._safe(leg.respond, 180)
        callee = _request_user(prm.rdata.wholeMsg) or uri_user(ci.localUri)
        self.emit(p.CallIncoming(leg_id, ci.callIdString, uri_user(ci.remoteUri), callee, source))

    def on_library_rejected(self, prm: pj.OnRejectedIncomingCallParam) -> None:
        source = prm.rdata.srcAddress if prm.rdata else ""
        sip_call_id = _header(prm.rdata.wholeMsg, "call-id") if prm.rdata else ""
        self.emit(p.CallRejected(sip_call_id, source, prm.statusCode, prm.reason))

    def _admission(self, host: str) -> tuple[int, str]:
        if host not in self.trusted:
            return 403, "Forbidden"
        if self.draining:
            return 503, "Service Unavailable"
        if len(self.legs) >= self.config.inbound_limit:
            return 486, "Busy Here"
        return 0, ""

    # ------------------------------------------------------------------ commands

    def _drain_commands(self) -> None:
        commands = self.control.commands
        while not commands.empty():
            item = commands.get_nowait()
            if isinstance(item, ConnectionLost):
                self.stopping = True
            elif isinstance(item, BadCommand):
                self.emit(p.WorkerError(item.message))
            else:
                self._handle(item)

    def _handle(self, cmd: p.Command) -> None:
        handler = self._HANDLERS.get(type(cmd))
        try:
            handler(self, cmd)
        except Exception as exc:  # noqa: BLE001 - a bad command must never kill the worker
            log.exception("command %s failed", cmd)
            self.emit(p.WorkerError(f"{cmd.type} failed: {exc}", getattr(cmd, "call_id", "")))

    def _leg(self, call_id: str) -> Leg:
        leg = self.legs.get(call_id)
        if leg is None or leg.state.ended:
            raise KeyError(f"unknown or ended call {call_id!r}")
        return leg

    def _answer(self, cmd: p.Answer) -> None:
        leg = self._leg(cmd.call_id)
        if leg.state.answer_requested:
            return
        leg.state.answer_requested = True
        leg.state.record_path = cmd.record_path or ""
        leg.respond(200)

    def _reject(self, cmd: p.Reject) -> None:
        leg = self._leg(cmd.call_id)
        if leg.state.answer_requested:
            raise ValueError("call already answered; use hangup")
        leg.end("system", cmd.code, cmd.reason)

    def _play(self, cmd: p.Play) -> None:
        leg = self._leg(cmd.call_id)
        leg.finish_prompt(interrupted=True)
        try:
            _check_files(cmd.files)
            if leg.audio is None:
                raise ValueError("no active media on this call")
            leg.play(cmd.prompt_id, list(cmd.files))
        except Exception:
            leg.player = None
            self.emit(p.PromptDone(cmd.call_id, cmd.prompt_id, interrupted=True))
            raise

    def _stop_play(self, cmd: p.StopPlay) -> None:
        self._leg(cmd.call_id).finish_prompt(interrupted=True)

    def _hangup(self, cmd: p.Hangup) -> None:
        self._leg(cmd.call_id).end("system", cmd.code)

    def _drain(self, cmd: p.Drain) -> None:
        self.draining = True
        # Events are ordered on the control connection: no call.incoming comes after this.
        self.emit(p.WorkerDraining(self.config.worker_id, len(self.legs)))

    def _shutdown(self, cmd: p.Shutdown) -> None:
        self.stopping = True

    _HANDLERS = {
        p.Answer: _answer,
        p.Reject: _reject,
        p.Play: _play,
        p.StopPlay: _stop_play,
        p.Hangup: _hangup,
        p.Drain: _drain,
        p.Shutdown: _shutdown,
    }

    # ------------------------------------------------------------------ loop chores

    def _drain_eofs(self) -> None:
        while self.eofs:
            leg_id, prompt_id = self.eofs.popleft()
            leg = self.legs.get(leg_id)
            if leg is not None and leg.state.prompt_id == prompt_id:
                self._safe(leg.finish_prompt, False)

    def _drain_disconnected(self) -> None:
        while self.disconnected:
            leg = self.disconnected.popleft()
            self._finish_leg(leg)

    def _finish_leg(self, leg: Leg) -> None:
        self._safe(leg.close_media)
        code, reason = leg.state.last_code, leg.state.last_reason
        if leg.state.refused:
            self.refused = [x for x in self.refused if x is not leg]
        elif self.legs.pop(leg.state.leg_id, None) is not None:
            by = leg.state.hangup_by or _by_from_reason(reason)
            reason = leg.state.hangup_reason or reason
            event = p.CallHangup(leg.state.leg_id, by, int(code), reason)
            # The conference bridge closes the WAV on its clock tick: say "hung up" once the
            # recording is complete, so the call record can point at a finished file.
            deadline = time.monotonic() + WAV_CLOSE_WAIT
            self.hangups.append((deadline, leg.state.record_path, event))

    def _emit_hangups(self, now: float) -> None:
        waiting = []
        for deadline, path, event in self.hangups:
            if now >= deadline or _wav_closed(path):
                self.emit(event)
            else:
                waiting.append((deadline, path, event))
        self.hangups = waiting

    def _check_timers(self, now: float) -> None:
        check_rtp = now >= self._next_rtp_check
        if check_rtp:
            self._next_rtp_check = now + RTP_CHECK_SECONDS
        for leg in list(self.legs.values()):
            if leg.state.ended:
                continue
            if now - leg.state.incoming_at > self.config.max_call_seconds:
                self._safe(leg.end, "timeout", 408, "max call length")
            elif check_rtp and leg.state.announced:
                self._check_rtp(leg, now)

    def _check_rtp(self, leg: Leg, now: float) -> None:
        pkts = leg.rx_packets()
        if pkts == -1:
            return
        if pkts != leg.state.rtp_pkts:
            leg.state.rtp_pkts, leg.state.rtp_seen_at = pkts, now
        elif now - leg.state.rtp_seen_at > self.config.rtp_timeout:
            self._safe(leg.end, "timeout", 408, "RTP timeout")

    def _reap(self, now: float) -> None:
        while self.graveyard and self.graveyard[0][0] <= now:
            self.graveyard.popleft()

    def _safe(self, fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001
            log.warning("%s failed: %s", getattr(fn, "__name__", fn), exc)


# ---------------------------------------------------------------------- helpers


def _host(address: str) -> str:
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 or "]" in address else address
    return host.strip("[]")


def _request_user(message: str) -> str:
    first = (message or "").split("\r\n", 1)[0].split("\n", 1)[0]
    parts = first.split()
    return uri_user(parts[1]) if len(parts) > 1 else ""


def _header(message: str, name: str) -> str:
    for line in (message or "").splitlines()[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name or (name == "call-id" and key.strip().lower() == "i"):
            return value.strip()
    return ""


def _wav_closed(path: str) -> bool:
    """True when the WAV header holds its final size (or there is no recording)."""
    if not path:
        return True
    try:
        with open(path, "rb") as wav:
            header = wav.read(8)
    except OSError:
        return True
    return len(header) == 8 and int.from_bytes(header[4:8], "little") > 0


def _by_from_reason(reason: str) -> str:
    return "timeout" if "timer" in (reason or "").lower() else "caller"


def _check_files(files: list[str]) -> None:
    if not files:
        raise ValueError("play needs at least one file")
    for name in files:
        if not Path(name).is_file():
            raise FileNotFoundError(f"prompt file not found: {name}")


def _setup_logging(config: WorkerConfig) -> None:
    handler: logging.Handler
    handler = logging.FileHandler(config.log_file) if config.log_file else logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=config.log_level.upper(), handlers=[handler], force=True)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    _setup_logging(config)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when we stop
    control = ControlChannel(config.control_host, config.control_port)
    worker = Worker(config, control)
    signal.signal(signal.SIGTERM, lambda *_: setattr(worker, "stopping", True))
    worker.start()
    worker.run()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: pjsua2 objects are already destroyed


if __name__ == "__main__":
    sys.exit(main())
