"""A scripted SIP caller on a second pjsua2 endpoint, run as its own process.

    python tests/e2e/pjcaller.py --target sip:95598@127.0.0.1:15060 --caller 13800000000 \
        --rtp-port 40000 --script "wait:6 dtmf:1 wait:2 dtmf:1502000001# wait:4 hangup"

Steps: ``wait:SECONDS``, ``dtmf:DIGITS`` (RFC 4733), ``info:DIGITS`` (SIP INFO), ``hangup``.
With ``--interactive`` the steps are read from stdin instead (whitespace separated, any number
a line; end of input or ``end`` means: wait ``--linger`` seconds for the far end, then hang up),
so a test can drive the caller from what the product's API shows.

Prints JSON lines on stdout: ``{"event": "calling", "call_id": ...}``, ``{"event":
"confirmed"}``, ``{"event": "step", "step": ...}`` after each step is done, ``{"event":
"disconnected", "status": ...}``, and last the result: ``{"event": "result", "connected": ...,
"hangup_by": "caller" | "remote", "status": <last SIP status>, "call_id": ..., "duration": ...}``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import select
import sys
import time

import pjsua2 as pj


def emit(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Caller(pj.Call):
    def __init__(self, account: pj.Account) -> None:
        super().__init__(account)
        self.confirmed_at: float | None = None
        self.disconnected = False
        self.status = 0

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.confirmed_at is None:
            self.confirmed_at = time.monotonic()
            emit(event="confirmed")
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
            self.disconnected = True
            self.status = info.lastStatusCode
            emit(event="disconnected", status=self.status)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        pass


def pump(ep: pj.Endpoint, seconds: float, call: Caller) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not call.disconnected:
        ep.libHandleEvents(10)


def send_digits(ep: pj.Endpoint, call: Caller, digits: str, method: int) -> None:
    for digit in digits:
        if call.disconnected:
            return
        param = pj.CallSendDtmfParam()
        param.method = method
        param.digits = digit
        call.sendDtmf(param)
        pump(ep, 0.25, call)


class StdinSteps:
    """Steps read from stdin without blocking the pj thread (it keeps handling events)."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno()
        self.buffer = b""
        self.closed = False
        self.queue: list[str] = []

    def next(self, ep: pj.Endpoint, call: Caller) -> str | None:
        while not self.queue:
            if self.closed or call.disconnected:
                return None
            ready, _, _ = select.select([self.fd], [], [], 0)
            if not ready:
                ep.libHandleEvents(10)
                continue
            chunk = os.read(self.fd, 4096)
            if not chunk:
                self.closed = True
                chunk = b"\n"
            self.buffer += chunk
            *lines, self.buffer = self.buffer.split(b"\n")
            for line in lines:
                self.queue += line.decode().split()
        step = self.queue.pop(0)
        if step == "end":
            self.closed = True
            return None
        return step


def make_endpoint(args: argparse.Namespace) -> pj.Endpoint:
    ep = pj.Endpoint()
    ep.libCreate()
    cfg = pj.EpConfig()
    cfg.uaConfig.threadCnt = 0
    cfg.uaConfig.mainThreadOnly = True
    cfg.logConfig.level = 1
    cfg.logConfig.consoleLevel = 1
    cfg.medConfig.clockRate = 8000
    cfg.medConfig.sndClockRate = 8000
    ep.libInit(cfg)
    tcfg = pj.TransportConfig()
    tcfg.port = args.local_port
    tcfg.boundAddress = "127.0.0.1"
    ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
    ep.libStart()
    ep.audDevManager().setNullDev()
    for codec in ep.codecEnum2():
        priority = 255 if codec.codecId.startswith(("PCMU", "PCMA")) else 0
        ep.codecSetPriority(codec.codecId, priority)
    return ep


def run_step(ep: pj.Endpoint, call: Caller, step: str, result: dict) -> None:
    methods = {"dtmf": pj.PJSUA_DTMF_METHOD_RFC2833, "info": pj.PJSUA_DTMF_METHOD_SIP_INFO}
    name, _, value = step.partition(":")
    if name == "wait":
        pump(ep, float(value), call)
    elif name in methods:
        send_digits(ep, call, value, methods[name])
    elif name == "hangup":
        call.hangup(pj.CallOpParam(True))
        result["hangup_by"] = "caller"
        pump(ep, 1, call)
    else:
        raise SystemExit(f"unknown step {step!r}")
    emit(event="step", step=step)


def run(args: argparse.Namespace) -> dict:
    ep = make_endpoint(args)
    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{args.caller}@127.0.0.1"
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acfg.mediaConfig.transportConfig.port = args.rtp_port
    acfg.mediaConfig.transportConfig.portRange = 4
    account = pj.Account()
    account.create(acfg)

    call = Caller(account)
    call.makeCall(args.target, pj.CallOpParam(True))
    call_id = call.getInfo().callIdString
    emit(event="calling", call_id=call_id)
    started = time.monotonic()
    while call.confirmed_at is None and not call.disconnected and time.monotonic() - started < 10:
        pump(ep, 0.1, call)
    result: dict = {"event": "result", "connected": call.confirmed_at is not None,
                    "hangup_by": None, "status": 0, "call_id": call_id}
    if args.interactive:
        steps = StdinSteps()
        while (step := steps.next(ep, call)) is not None and not call.disconnected:
            run_step(ep, call, step, result)
    else:
        for step in args.script.split():
            if call.disconnected:
                break
            run_step(ep, call, step, result)
    if not call.disconnected:
        pump(ep, args.linger, call)
    if not call.disconnected:
        call.hangup(pj.CallOpParam(True))
        result["hangup_by"] = "caller"
        pump(ep, 1, call)
    elif result["hangup_by"] is None:
        result["hangup_by"] = "remote"
    result["status"] = call.status
    result["duration"] = round(time.monotonic() - started, 2)
    del call
    account.shutdown()
    del account
    gc.collect()
    ep.libDestroy()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--caller", default="13800000000")
    parser.add_argument("--local-port", type=int, default=0, help="SIP port; 0: any free one")
    parser.add_argument("--rtp-port", type=int, required=True, help="first of 4 RTP/RTCP ports")
    parser.add_argument("--script", default="")
    parser.add_argument("--interactive", action="store_true", help="read the steps from stdin")
    parser.add_argument("--linger", type=float, default=5.0, help="wait for the far end to hang up")
    args = parser.parse_args()
    emit(**run(args))


if __name__ == "__main__":
    main()
