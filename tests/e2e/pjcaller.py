"""A scripted SIP caller on a second pjsua2 endpoint, run as its own process.

    python tests/e2e/pjcaller.py --target sip:95598@127.0.0.1:15060 --caller 13800000000 \
        --script "wait:6 dtmf:1 wait:2 dtmf:1502000001# wait:4 hangup"

Steps: ``wait:SECONDS``, ``dtmf:DIGITS`` (RFC 4733), ``info:DIGITS`` (SIP INFO), ``hangup``.
Prints one JSON line: whether the call connected, who hung up, the SIP status and duration.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

import pjsua2 as pj


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
        if info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.disconnected = True
            self.status = info.lastStatusCode

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


def run(args: argparse.Namespace) -> dict:
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

    acfg = pj.AccountConfig()
    acfg.idUri = f"sip:{args.caller}@127.0.0.1:{args.local_port}"
    acfg.mediaConfig.transportConfig.boundAddress = "127.0.0.1"
    acfg.mediaConfig.transportConfig.port = args.rtp_port
    account = pj.Account()
    account.create(acfg)

    call = Caller(account)
    call.makeCall(args.target, pj.CallOpParam(True))
    started = time.monotonic()
    while call.confirmed_at is None and not call.disconnected and time.monotonic() - started < 10:
        pump(ep, 0.1, call)
    result = {"connected": call.confirmed_at is not None, "hangup_by": None, "status": 0}
    methods = {"dtmf": pj.PJSUA_DTMF_METHOD_RFC2833, "info": pj.PJSUA_DTMF_METHOD_SIP_INFO}
    for step in args.script.split():
        if call.disconnected:
            break
        name, _, value = step.partition(":")
        if name == "wait":
            pump(ep, float(value), call)
        elif name in methods:
            send_digits(ep, call, value, methods[name])
        elif name == "hangup":
            call.hangup(pj.CallOpParam(True))
            result["hangup_by"] = "caller"
            pump(ep, 1, call)
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
    parser.add_argument("--local-port", type=int, required=True)
    parser.add_argument("--rtp-port", type=int, required=True)
    parser.add_argument("--script", required=True)
    parser.add_argument("--linger", type=float, default=5.0, help="wait for the far end to hang up")
    args = parser.parse_args()
    print(json.dumps(run(args)), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
