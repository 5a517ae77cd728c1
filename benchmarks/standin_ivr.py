"""A stand-in for the product's IVR, to develop and test the benchmark tools without it.

A plain asyncio UAS (many calls in one process) that answers INVITEs, plays synthetic
"speech" prompts (tone syllables at about -18 dBFS with comma pauses) over a comfort-noise
floor (about -70 dBFS), takes RFC 4733 DTMF, lets a key interrupt the prompt, and walks the
95598 menu: greeting -> main menu -> 1 -> account prompt -> 10 digits + # -> readback ->
1 -> balance -> main menu. ``--delay-ms`` adds a known reaction delay, so the probe's
measurement can be checked against it.

    python -m benchmarks.standin_ivr --port 5072 --delay-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.sipcaller import (
    CN,
    PCMA,
    PCMU,
    SAMPLES_PER_FRAME,
    Sdp,
    SipMessage,
    build_message,
    build_sdp,
    encode_linear,
    parse_rtp,
    rtp_header,
    tag_of,
)
from benchmarks.sipp import write_pcap

RATE = 8000
KEYS = "0123456789*#ABCD"

# prompt name -> syllables per comma-separated phrase (roughly the real prompt's length)
PROMPTS = {
    "greeting": [8, 10],
    "menu": [6, 6, 6, 6, 6],
    "account": [10, 6],
    "readback": [6, 10, 8],
    "balance": [8, 10, 10],
    "invalid": [8],
}


def synth_prompt(phrases: list[int], seed: int, level_dbfs: float = -18.0,
                 lead_ms: float = 60.0) -> np.ndarray:
    """Speech-like bursts: 140 ms tone syllables, 40 ms dips, 250 ms comma pauses, after
    ``lead_ms`` of leading silence (TTS output starts with some)."""
    rng = random.Random(seed)
    amp = 32768 * 10 ** (level_dbfs / 20) * 1.414
    out = [np.zeros(int(lead_ms / 1000 * RATE))]
    for n in phrases:
        for _ in range(n):
            f = rng.uniform(180, 320)
            t = np.arange(int(0.14 * RATE)) / RATE
            env = np.minimum(1.0, np.minimum(t / 0.01, (t[-1] - t) / 0.01 + 0.01))
            out.append(amp * env * np.sin(2 * np.pi * f * t))
            out.append(np.zeros(int(0.04 * RATE)))
        out.append(np.zeros(int(0.25 * RATE)))
    pcm = np.concatenate(out)
    pad = (-len(pcm)) % SAMPLES_PER_FRAME
    return np.concatenate([pcm, np.zeros(pad)]).astype(np.int16)


def comfort_noise(level_dbfs: float = -70.0, seconds: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal(int(seconds * RATE)) * 32768 * 10 ** (level_dbfs / 20)).astype(
        np.int16)


def write_rtp_pcap(path: str, payloads: list[bytes], pt: int, frame_ms: int = 20,
                   samples: int = SAMPLES_PER_FRAME) -> None:
    """Write audio frames as one RTP stream to a pcap file that sipp can play."""
    seq, ts, ssrc = 1000, 8000, 0x1234ABCD
    write_pcap(Path(path), [(i * frame_ms / 1000,
                             rtp_header(pt, seq + i, ts + i * samples, ssrc, marker=i == 0) + p)
                            for i, p in enumerate(payloads)])


def frames_of(pcm: np.ndarray, pt: int) -> list[bytes]:
    enc = encode_linear(pcm, pt)
    return [enc[i:i + SAMPLES_PER_FRAME] for i in range(0, len(enc), SAMPLES_PER_FRAME)]


class _Proto(asyncio.DatagramProtocol):
    def __init__(self, cb):
        self.cb = cb

    def datagram_received(self, data, addr):
        self.cb(data, addr, time.monotonic())


@dataclass
class Leg:
    call_id: str
    invite: SipMessage
    sip_addr: tuple
    to_tag: str
    pt: int
    dtmf_pt: int | None
    remote_rtp: tuple
    rtp_tr: asyncio.DatagramTransport | None = None
    state: str = "new"
    queue: list[str] = field(default_factory=list)  # prompts still to play
    frames: list[bytes] = field(default_factory=list)
    pos: int = 0
    digits: str = ""
    seen_events: set = field(default_factory=set)
    seq: int = field(default_factory=lambda: random.getrandbits(16))
    ts: int = field(default_factory=lambda: random.getrandbits(32))
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    noise_pos: int = 0
    keys: list[str] = field(default_factory=list)
    ended: bool = False
    pending: asyncio.TimerHandle | None = None
    max_timer: asyncio.TimerHandle | None = None


class StandinIvr:
    def __init__(self, host: str = "127.0.0.1", port: int = 5072, delay_ms: float = 0.0,
                 act_on: str = "end", max_call_s: float = 120.0, max_calls: int = 500,
                 lead_ms: float = 60.0, prompt_scale: float = 1.0):
        self.host, self.port = host, port
        self.delay = delay_ms / 1000
        self.act_on = act_on
        self.max_call_s = max_call_s
        self.max_calls = max_calls
        self.legs: dict[str, Leg] = {}
        self.calls_total = 0
        self.keys_total = 0
        self._frames = {(name, pt): frames_of(
            synth_prompt([max(1, round(n * prompt_scale)) for n in ph], i, lead_ms=lead_ms), pt)
                        for i, (name, ph) in enumerate(PROMPTS.items()) for pt in (PCMU, PCMA)}
        self._noise = {pt: frames_of(comfort_noise(), pt) for pt in (PCMU, PCMA)}
        self._sip = None
        self._tick_task = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._sip, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(self._on_sip), local_addr=(self.host, self.port))
        self.port = self._sip.get_extra_info("sockname")[1]
        self._tick_task = loop.create_task(self._ticker())

    async def stop(self) -> None:
        for leg in list(self.legs.values()):
            self._send_bye(leg)
            self._end(leg)
        if self._tick_task:
            self._tick_task.cancel()
        if self._sip:
            self._sip.close()

    # ---------------------------------------------------------------- SIP

    def _reply(self, req: SipMessage, addr, code: int, reason: str, to_tag: str = "",
               body: bytes = b"") -> None:
        to = req.get("to")
        if to_tag and not tag_of(to):
            to += f";tag={to_tag}"
        headers = [("Via", v) for v in req.get_all("via")]
        headers += [("From", req.get("from")), ("To", to), ("Call-ID", req.call_id),
                    ("CSeq", req.get("cseq"))]
        if code == 200:
            headers.append(("Contact", f"<sip:95598@{self.host}:{self.port}>"))
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self._sip.sendto(build_message(f"SIP/2.0 {code} {reason}", headers, body), addr)

    def _on_sip(self, data: bytes, addr, t: float) -> None:
        if not data.strip():
            return
        try:
            msg = SipMessage.parse(data)
        except (ValueError, IndexError):
            return
        if not msg.is_request:
            return  # 200 to our BYE
        leg = self.legs.get(msg.call_id)
        method = msg.method
        if method == "INVITE" and leg is None:
            asyncio.get_running_loop().create_task(self._answer(msg, addr))
        elif method == "INVITE":  # retransmission or re-INVITE
            self._reply(msg, addr, 200, "OK", leg.to_tag, self._sdp(leg))
        elif method == "ACK" and leg is not None and leg.state == "new":
            self._play(leg, ["greeting", "menu"], "menu")
            leg.max_timer = asyncio.get_running_loop().call_later(self.max_call_s,
                                                                  self._timeout, leg)
        elif method == "BYE":
            self._reply(msg, addr, 200 if leg else 481, "OK" if leg else "No Such Call")
            if leg:
                self._end(leg)
        elif method not in ("ACK",):
            self._reply(msg, addr, 200, "OK")

    def _sdp(self, leg: Leg) -> bytes:
        port = leg.rtp_tr.get_extra_info("sockname")[1]
        return build_sdp(self.host, port, [leg.pt], leg.dtmf_pt)

    async def _answer(self, msg: SipMessage, addr) -> None:
        if len(self.legs) >= self.max_calls:
            self._reply(msg, addr, 486, "Busy Here", uuid.uuid4().hex[:8])
            return
        offer = Sdp.parse(msg.body)
        pt = offer.codec()
        if pt is None:
            self._reply(msg, addr, 488, "Not Acceptable Here", uuid.uuid4().hex[:8])
            return
        leg = Leg(msg.call_id, msg, addr, uuid.uuid4().hex[:8], pt, offer.telephone_event(),
                  (offer.ip, offer.port))
        self.legs[msg.call_id] = leg
        self.calls_total += 1
        self._reply(msg, addr, 100, "Trying")
        loop = asyncio.get_running_loop()
        leg.rtp_tr, _ = await loop.create_datagram_endpoint(
            lambda: _Proto(lambda d, a, t: self._on_rtp(leg, d, t)), local_addr=(self.host, 0))
        self._reply(msg, addr, 180, "Ringing", leg.to_tag)
        self._reply(msg, addr, 200, "OK", leg.to_tag, self._sdp(leg))

    def _timeout(self, leg: Leg) -> None:
        if not leg.ended:
            self._send_bye(leg)
            self._end(leg)

    def _send_bye(self, leg: Leg) -> None:
        inv = leg.invite
        remote = inv.get("contact") or inv.get("from")
        uri = remote.split("<", 1)[1].split(">", 1)[0] if "<" in remote else remote
        headers = [("Via", f"SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK"
                           f"{uuid.uuid4().hex[:12]}"), ("Max-Forwards", "70"),
                   ("From", inv.get("to") + f";tag={leg.to_tag}"), ("To", inv.get("from")),
                   ("Call-ID", leg.call_id), ("CSeq", "1 BYE")]
        self._sip.sendto(build_message(f"BYE {uri} SIP/2.0", headers), leg.sip_addr)

    def _end(self, leg: Leg) -> None:
        leg.ended = True
        for timer in (leg.pending, leg.max_timer):
            if timer:
                timer.cancel()
        if leg.rtp_tr:
            leg.rtp_tr.close()
        self.legs.pop(leg.call_id, None)

    # ---------------------------------------------------------------- media / menu

    def _play(self, leg: Leg, prompts: list[str], state: str) -> None:
        leg.state = state
        leg.queue = list(prompts)
        leg.frames, leg.pos = [], 0

    def _on_rtp(self, leg: Leg, data: bytes, t: float) -> None:
        parsed = parse_rtp(data)
        if parsed is None or leg.ended:
            return
        pt, _m, _seq, ts, payload = parsed
        if pt != leg.dtmf_pt or len(payload) < 4:
            return
        event, end = payload[0], bool(payload[1] & 0x80)
        if (self.act_on == "end" and not end) or ts in leg.seen_events or event >= len(KEYS):
            return
        leg.seen_events.add(ts)
        self._on_key(leg, KEYS[event])

    def _on_key(self, leg: Leg, key: str) -> None:
        leg.keys.append(key)
        self.keys_total += 1
        leg.frames, leg.pos, leg.queue = [], 0, []  # barge-in: stop the prompt at once
        if leg.pending:
            leg.pending.cancel()
        nxt: tuple[list[str], str] | None = None
        if leg.state == "menu":
            nxt = (["account"], "account") if key == "1" else (["menu"], "menu")
        elif leg.state == "account":
            if key.isdigit():
                leg.digits += key
            elif key == "#":
                ok = len(leg.digits) == 10
                nxt = (["readback"], "confirm") if ok else (["invalid", "account"], "account")
                leg.digits = "" if not ok else leg.digits
        elif leg.state == "confirm":
            if key == "1":
                nxt = (["balance", "menu"], "menu")
            else:
                leg.digits = ""
                nxt = (["account"], "account")
        if nxt is None:
            return
        if self.delay > 0:
            leg.state = "busy"
            leg.pending = asyncio.get_running_loop().call_later(self.delay, self._play, leg,
                                                                *nxt)
        else:
            self._play(leg, *nxt)

    def _next_frame(self, leg: Leg) -> tuple[int, bytes]:
        while leg.pos >= len(leg.frames) and leg.queue:
            leg.frames, leg.pos = self._frames[(leg.queue.pop(0), leg.pt)], 0
        if leg.pos < len(leg.frames):
            leg.pos += 1
            return leg.pt, leg.frames[leg.pos - 1]
        noise = self._noise[leg.pt]
        leg.noise_pos = (leg.noise_pos + 1) % len(noise)
        if leg.noise_pos % 10 == 0:
            return CN, bytes([70])  # now and then a comfort-noise packet, as PBXes send
        return leg.pt, noise[leg.noise_pos]

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while True:
            n += 1
            delay = start + n * 0.02 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            for leg in list(self.legs.values()):
                if leg.state == "new" or leg.rtp_tr is None or leg.ended:
                    continue
                pt, payload = self._next_frame(leg)
                leg.ts = (leg.ts + SAMPLES_PER_FRAME) & 0xFFFFFFFF
                leg.rtp_tr.sendto(rtp_header(pt, leg.seq, leg.ts, leg.ssrc) + payload,
                                  leg.remote_rtp)
                leg.seq = (leg.seq + 1) & 0xFFFF


async def _main(args) -> None:
    ivr = StandinIvr(args.host, args.port, args.delay_ms, args.act_on, args.max_call_s,
                     max_calls=args.max_calls, lead_ms=args.lead_ms,
                     prompt_scale=args.prompt_scale)
    await ivr.start()
    print(f"stand-in IVR on sip:95598@{args.host}:{ivr.port} (delay {args.delay_ms} ms)",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), args.run_s)
    await ivr.stop()
    print(f"stand-in IVR: {ivr.calls_total} calls, {ivr.keys_total} keys", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5072)
    p.add_argument("--delay-ms", type=float, default=0.0, help="reaction delay after a key")
    p.add_argument("--act-on", choices=("start", "end"), default="end",
                   help="react to a key's first packet or its end packet")
    p.add_argument("--lead-ms", type=float, default=60.0, help="silence before each prompt")
    p.add_argument("--prompt-scale", type=float, default=1.0,
                   help="scale the prompts' length (0.3: short prompts for tests)")
    p.add_argument("--max-calls", type=int, default=500, help="486 beyond this many calls")
    p.add_argument("--max-call-s", type=float, default=120.0)
    p.add_argument("--run-s", type=float, default=3600.0, help="exit after this long")
    asyncio.run(_main(p.parse_args(argv)))


if __name__ == "__main__":
    main()
