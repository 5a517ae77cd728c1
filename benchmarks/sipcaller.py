"""A small asyncio SIP user agent over UDP, built for timing measurements.

No pjsua2: plain sockets, so every timestamp is taken right next to the ``sendto`` or
the receive callback (``time.monotonic()``).

    async with SipCaller("sip:95598@127.0.0.1:5070") as call:
        await call.wait_audio()
        await call.wait_quiet(1.5)
        t_key = await call.send_dtmf("1")
        t_audio = await call.first_audio_after(t_key)

What it does:
- INVITE with SDP offering PCMU, PCMA and telephone-event (payload 101), retransmitted
  (timer A) until a provisional or final answer; 1xx / 2xx / error responses, ACK (also for
  retransmitted 2xx), Record-Route route sets, BYE in both directions (an incoming BYE gets
  200), 200 to in-dialog re-INVITE / UPDATE / INFO / OPTIONS.
- A 20 ms RTP silence frame is sent continuously while the call is up (absolute schedule, so
  no drift); RFC 4733 events replace audio frames while a key is sent: first packet with the
  marker bit, updates every 20 ms, then the end packet sent three times (RFC 4733 2.5.1.4).
  The monotonic time of the FIRST end packet of each key is recorded and returned.
- Received PCMU / PCMA is decoded and cut into 20 ms frames; each frame's RMS level (dBFS) is
  compared with a threshold (default -40 dBFS, far above silence and comfort noise at
  -60..-70 dBFS). Comfort-noise packets (payload 13) count as silence.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import math
import random
import socket
import struct
import time
import uuid
from dataclasses import dataclass, field

import numpy as np

T1 = 0.5
FRAME_S = 0.020
SAMPLES_PER_FRAME = 160
PCMU, PCMA, CN = 0, 8, 13
SILENCE_BYTE = {PCMU: 0xFF, PCMA: 0xD5}
DTMF_EVENTS = {**{str(d): d for d in range(10)}, "*": 10, "#": 11,
               "A": 12, "B": 13, "C": 14, "D": 15}
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported"}


class SipError(Exception):
    """The call could not be set up or a request failed."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- G.711


def _ulaw_table() -> np.ndarray:
    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        u = ~i & 0xFF
        t = ((u & 0x0F) << 3) + 0x84
        t <<= (u & 0x70) >> 4
        out[i] = (0x84 - t) if (u & 0x80) else (t - 0x84)
    return out


def _alaw_table() -> np.ndarray:
    out = np.zeros(256, dtype=np.int16)
    for i in range(256):
        a = i ^ 0x55
        t = (a & 0x0F) << 4
        seg = (a & 0x70) >> 4
        if seg == 0:
            t += 8
        elif seg == 1:
            t += 0x108
        else:
            t = (t + 0x108) << (seg - 1)
        out[i] = t if (a & 0x80) else -t
    return out


DECODE = {PCMU: _ulaw_table(), PCMA: _alaw_table()}


def encode_linear(samples: np.ndarray, pt: int) -> bytes:
    """Encode int16 samples as PCMU/PCMA (nearest code by table search; fine for tests)."""
    table = DECODE[pt].astype(np.int32)
    order = np.argsort(table)
    sorted_vals = table[order]
    idx = np.clip(np.searchsorted(sorted_vals, samples.astype(np.int32)), 1, 255)
    left, right = sorted_vals[idx - 1], sorted_vals[idx]
    pick = np.where(np.abs(samples - left) <= np.abs(right - samples), idx - 1, idx)
    return order[pick].astype(np.uint8).tobytes()


def frame_dbfs(payload: bytes, pt: int) -> float:
    """RMS level of G.711 bytes in dBFS (-120 for digital silence)."""
    x = DECODE[pt][np.frombuffer(payload, dtype=np.uint8)].astype(np.float64)
    rms = math.sqrt(float(np.mean(x * x))) if len(x) else 0.0
    return 20 * math.log10(rms / 32768.0) if rms > 0 else -120.0


# --------------------------------------------------------------------------- SIP text


@dataclass
class SipMessage:
    first_line: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.first_line.split(" ", 1)[0] if self.is_request else self.cseq[1]

    @property
    def status(self) -> int:
        return int(self.first_line.split(" ", 2)[1])

    @property
    def request_uri(self) -> str:
        return self.first_line.split(" ")[1]

    def get(self, name: str, default: str = "") -> str:
        vals = self.get_all(name)
        return vals[0] if vals else default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    @property
    def cseq(self) -> tuple[int, str]:
        num, method = self.get("cseq").split()
        return int(num), method.upper()

    @property
    def call_id(self) -> str:
        return self.get("call-id")

    @classmethod
    def parse(cls, data: bytes) -> SipMessage:
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and headers:
                k, v = headers[-1]
                headers[-1] = (k, v + " " + line.strip())
                continue
            name, _, value = line.partition(":")
            name = name.strip().lower()
            name = COMPACT.get(name, name)
            if name in ("via", "record-route", "route"):
                headers.extend((name, p) for p in split_commas(value.strip()))
            else:
                headers.append((name, value.strip()))
        length = int(dict(headers).get("content-length", len(body)) or 0)
        return cls(lines[0], headers, body[:length])


def split_commas(value: str) -> list[str]:
    out, depth, quote, cur = [], 0, False, []
    for ch in value:
        if ch == '"':
            quote = not quote
        elif not quote and ch == "<":
            depth += 1
        elif not quote and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quote:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def build_message(first_line: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [first_line] + [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def uri_of(header_value: str) -> str:
    """The URI inside a name-addr (``"x" <sip:a@b>;tag=1``) or the addr-spec itself."""
    if "<" in header_value:
        return header_value.split("<", 1)[1].split(">", 1)[0]
    return header_value.split(";", 1)[0].strip()


def tag_of(header_value: str) -> str:
    params = header_value.split(">", 1)[-1] if ">" in header_value else header_value
    for p in params.split(";")[1:]:
        k, _, v = p.strip().partition("=")
        if k.lower() == "tag":
            return v
    return ""


def host_port(uri: str, default_port: int = 5060) -> tuple[str, int]:
    """Host and port of a SIP URI (``sip:user@host:port;params``)."""
    rest = uri.split(":", 1)[1] if uri.lower().startswith(("sip:", "sips:")) else uri
    rest = rest.split("@", 1)[-1].split(";", 1)[0].split("?", 1)[0]
    host, _, port = rest.partition(":")
    return host, int(port) if port else default_port


def parse_target(target: str) -> tuple[str, str, int]:
    """``sip:95598@127.0.0.1:5070`` or ``127.0.0.1:5070`` -> (user, host, port)."""
    if not target.lower().startswith("sip:"):
        target = "sip:95598@" + target
    user = target[4:].split("@", 1)[0] if "@" in target else ""
    host, port = host_port(target)
    return user, host, port


# --------------------------------------------------------------------------- SDP


@dataclass
class Sdp:
    ip: str = ""
    port: int = 0
    payloads: list[int] = field(default_factory=list)
    rtpmap: dict[int, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: bytes) -> Sdp:
        sdp, session_ip, media_ip, in_audio = cls(), "", "", False
        for line in body.decode("utf-8", "replace").splitlines():
            key, _, val = line.strip().partition("=")
            if key == "m":
                parts = val.split()
                in_audio = parts[0] == "audio" and not sdp.port
                if in_audio:
                    sdp.port = int(parts[1])
                    sdp.payloads = [int(p) for p in parts[3:] if p.isdigit()]
            elif key == "c":
                ip = val.split()[-1].split("/")[0]
                if in_audio:
                    media_ip = ip
                elif not sdp.port:
                    session_ip = ip
            elif key == "a" and in_audio and val.startswith("rtpmap:"):
                pt, _, enc = val[7:].partition(" ")
                sdp.rtpmap[int(pt)] = enc.strip()
        sdp.ip = media_ip or session_ip
        return sdp

    def codec(self) -> int | None:
        for pt in self.payloads:
            name = self.rtpmap.get(pt, {PCMU: "PCMU/8000", PCMA: "PCMA/8000"}.get(pt, ""))
            if name.upper().startswith("PCMU"):
                return PCMU
            if name.upper().startswith("PCMA"):
                return PCMA
        return None

    def telephone_event(self) -> int | None:
        for pt in self.payloads:
            if self.rtpmap.get(pt, "").lower().startswith("telephone-event"):
                return pt
        return None


def build_sdp(ip: str, port: int, payloads: list[int], dtmf_pt: int | None,
              session_id: int = 1) -> bytes:
    names = {PCMU: "PCMU/8000", PCMA: "PCMA/8000"}
    pts = list(payloads) + ([dtmf_pt] if dtmf_pt is not None else [])
    lines = ["v=0", f"o=- {session_id} {session_id} IN IP4 {ip}", "s=hotline-bench",
             f"c=IN IP4 {ip}", "t=0 0", f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}"]
    lines += [f"a=rtpmap:{pt} {names[pt]}" for pt in payloads]
    if dtmf_pt is not None:
        lines += [f"a=rtpmap:{dtmf_pt} telephone-event/8000", f"a=fmtp:{dtmf_pt} 0-16"]
    lines += ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()


# --------------------------------------------------------------------------- RTP


def rtp_header(pt: int, seq: int, ts: int, ssrc: int, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc)


def parse_rtp(data: bytes) -> tuple[int, bool, int, int, bytes] | None:
    """-> (payload type, marker, seq, timestamp, payload) or None if not RTP."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    cc, has_ext, padding = data[0] & 0x0F, data[0] & 0x10, data[0] & 0x20
    off = 12 + 4 * cc
    if has_ext and len(data) >= off + 4:
        off += 4 + 4 * struct.unpack("!H", data[off + 2:off + 4])[0]
    end = len(data) - (data[-1] if padding else 0)
    seq, ts = struct.unpack("!HI", data[2:8])
    return data[1] & 0x7F, bool(data[1] & 0x80), seq, ts, data[off:end]


def dtmf_payload(event: int, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", event, (0x80 if end else 0) | (volume & 0x3F), duration)


@dataclass
class _Key:
    event: int
    duration_ms: int
    future: asyncio.Future
    t_first: float = 0.0


@dataclass
class KeyTiming:
    key: str
    t_first: float  # first packet of the event (key down)
    t_end: float  # first end packet (key up): the reference for latency


# --------------------------------------------------------------------------- the UA


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, on_datagram):
        self.on_datagram = on_datagram

    def datagram_received(self, data, addr):
        self.on_datagram(data, addr, time.monotonic())


class SipCaller:
    """One outgoing call. Use as an async context manager (INVITE on enter, BYE on exit)."""

    def __init__(self, target: str, local_ip: str = "127.0.0.1", *, caller: str = "bench",
                 codecs: tuple[str, ...] = ("PCMU", "PCMA"), dtmf_pt: int = 101,
                 threshold_dbfs: float = -40.0, invite_timeout: float = 10.0,
                 sip_port: int = 0, rtp_port: int = 0, send_silence: bool = True):
        self.user, self.host, self.port = parse_target(target)
        self.target_uri = f"sip:{self.user}@{self.host}:{self.port}"
        self.local_ip = local_ip
        self.caller = caller
        self.offer_payloads = [{"PCMU": PCMU, "PCMA": PCMA}[c.upper()] for c in codecs]
        self.offer_dtmf_pt = dtmf_pt
        self.threshold_dbfs = threshold_dbfs
        self.invite_timeout = invite_timeout
        self.send_silence = send_silence
        self._sip_port_req, self._rtp_port_req = sip_port, rtp_port
        self.call_id = f"{uuid.uuid4().hex}@{local_ip}"
        self.from_tag = uuid.uuid4().hex[:10]
        self.to_tag = ""
        self.remote_target = self.target_uri
        self.route_set: list[str] = []
        self.cseq = 1
        self.invite_branch = ""
        # state
        self.responses: list[tuple[float, int]] = []  # (time, status) of INVITE responses
        self.t_invite = self.t_answer = self.t_hangup = 0.0
        self.hangup_by = ""  # "local" | "remote"
        self.connected = False
        self.codec: int | None = None
        self.remote_dtmf_pt: int | None = None
        self.remote_rtp: tuple[str, int] | None = None
        self.keys_sent: list[KeyTiming] = []
        self.frames: list[tuple[float, float]] = []  # (arrival time, dBFS) per 20 ms
        self.rtp_received = 0
        self.remote_dtmf: list[tuple[int, float]] = []
        self._times: list[float] = []
        self._loud: list[int] = []  # indexes of loud frames
        self._sip_tr = self._rtp_tr = None
        self._pending: dict[tuple[int, str], asyncio.Future] = {}
        self._keys: asyncio.Queue[_Key] = asyncio.Queue()
        self._rtp_task: asyncio.Task | None = None
        self._ended = asyncio.Event()
        self._ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._ts = random.getrandbits(32)

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> SipCaller:
        await self.open()
        try:
            await self.invite()
        except BaseException:
            self.close()
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            await self.hangup()
        finally:
            self.close()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._sip_tr, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self._on_sip), local_addr=(self.local_ip, self._sip_port_req))
        self._rtp_tr, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self._on_rtp), local_addr=(self.local_ip, self._rtp_port_req))
        self.sip_port = self._sip_tr.get_extra_info("sockname")[1]
        self.rtp_port = self._rtp_tr.get_extra_info("sockname")[1]
        for tr in (self._sip_tr, self._rtp_tr):
            sock = tr.get_extra_info("socket")
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def close(self) -> None:
        if self._rtp_task:
            self._rtp_task.cancel()
        for tr in (self._sip_tr, self._rtp_tr):
            if tr:
                tr.close()
        self._sip_tr = self._rtp_tr = None

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    async def wait_ended(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._ended.wait(), timeout)
            return True
        except TimeoutError:
            return False

    # ------------------------------------------------------------ SIP out

    def _via(self, branch: str) -> str:
        return f"SIP/2.0/UDP {self.local_ip}:{self.sip_port};branch={branch};rport"

    def _from(self) -> str:
        return f"<sip:{self.caller}@{self.local_ip}:{self.sip_port}>;tag={self.from_tag}"

    def _to(self) -> str:
        return f"<{self.target_uri}>" + (f";tag={self.to_tag}" if self.to_tag else "")

    def _contact(self) -> str:
        return f"<sip:{self.caller}@{self.local_ip}:{self.sip_port}>"

    def _request(self, method: str, cseq: int, branch: str, body: bytes = b"",
                 ctype: str = "", uri: str | None = None, in_dialog: bool = True) -> bytes:
        uri = uri or (self.remote_target if in_dialog else self.target_uri)
        headers = [("Via", self._via(branch)), ("Max-Forwards", "70")]
        if in_dialog:
            headers += [("Route", r) for r in self.route_set]
        headers += [("From", self._from()), ("To", self._to()), ("Call-ID", self.call_id),
                    ("CSeq", f"{cseq} {method}"), ("Contact", self._contact()),
                    ("User-Agent", "hotline-bench-sipcaller"),
                    ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE")]
        if ctype:
            headers.append(("Content-Type", ctype))
        return build_message(f"{method} {uri} SIP/2.0", headers, body)

    def _dialog_dest(self) -> tuple[str, int]:
        if self.route_set:
            return host_port(uri_of(self.route_set[0]))
        return host_port(self.remote_target)

    def _send_sip(self, data: bytes, dest: tuple[str, int]) -> None:
        if self._sip_tr:
            self._sip_tr.sendto(data, dest)

    async def _transaction(self, key: tuple[int, str], data: bytes, dest: tuple[str, int],
                           timeout: float, until_final: bool) -> SipMessage:
        """Send with timer A/E retransmission; return the first (final) response."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending[key] = fut
        deadline, interval = loop.time() + timeout, T1
        try:
            while True:
                wait = min(interval, deadline - loop.time())
                if wait <= 0:
                    raise SipError(f"{key[1]}: no response within {timeout:.1f} s")
                self._send_sip(data, dest)
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), wait)
                except TimeoutError:
                    interval = min(interval * 2, 4.0)
                    if not until_final and getattr(self, "_provisional", False):
                        # provisional seen for INVITE: stop retransmitting, just wait
                        return await asyncio.wait_for(fut, max(deadline - loop.time(), 0.01))
        except TimeoutError:
            raise SipError(f"{key[1]}: no final response within {timeout:.1f} s") from None
        finally:
            self._pending.pop(key, None)

    async def invite(self) -> None:
        body = build_sdp(self.local_ip, self.rtp_port, self.offer_payloads, self.offer_dtmf_pt)
        self.invite_branch = "z9hG4bK" + uuid.uuid4().hex[:16]
        self._invite_data = self._request("INVITE", 1, self.invite_branch, body,
                                          "application/sdp", in_dialog=False)
        self.t_invite = time.monotonic()
        self._provisional = False
        resp = await self._transaction((1, "INVITE"), self._invite_data, (self.host, self.port),
                                       self.invite_timeout, until_final=False)
        if resp.status >= 300:
            raise SipError(f"INVITE rejected: {resp.first_line}", resp.status)

    def _on_invite_response(self, msg: SipMessage, t: float) -> None:
        self.responses.append((t, msg.status))
        if msg.status < 200:
            self._provisional = True
            if msg.body and msg.status == 183:
                self._apply_sdp(msg.body)
            return
        if msg.status >= 300:
            # ACK for a non-2xx final response: same branch, same R-URI (RFC 3261 17.1.1.3)
            self.to_tag = tag_of(msg.get("to"))
            ack = build_message(f"ACK {self.target_uri} SIP/2.0", [
                ("Via", self._via(self.invite_branch)), ("Max-Forwards", "70"),
                ("From", self._from()), ("To", msg.get("to")), ("Call-ID", self.call_id),
                ("CSeq", "1 ACK")])
            self._send_sip(ack, (self.host, self.port))
            self._resolve((1, "INVITE"), msg)
            return
        first = not self.connected
        if first:
            self.to_tag = tag_of(msg.get("to"))
            contact = msg.get("contact")
            if contact:
                self.remote_target = uri_of(contact)
            self.route_set = list(reversed(msg.get_all("record-route")))
            if msg.body:
                self._apply_sdp(msg.body)
            self.connected = True
            self.t_answer = t
        ack = self._request("ACK", 1, "z9hG4bK" + uuid.uuid4().hex[:16])
        self._send_sip(ack, self._dialog_dest())  # also for retransmitted 2xx
        if first:
            self._start_media()
            self._resolve((1, "INVITE"), msg)

    def _apply_sdp(self, body: bytes) -> None:
        sdp = Sdp.parse(body)
        if sdp.port:
            self.remote_rtp = (sdp.ip or self.host, sdp.port)
        codec = sdp.codec()
        if codec is not None:
            self.codec = codec
        self.remote_dtmf_pt = sdp.telephone_event()

    def _resolve(self, key, msg) -> None:
        fut = self._pending.get(key)
        if fut and not fut.done():
            fut.set_result(msg)

    async def hangup(self, timeout: float = 4.0) -> None:
        """Send BYE (if the call is up and the far end has not hung up) and wait for 200."""
        if not self.connected or self.ended:
            return
        self.cseq += 1
        self.hangup_by = "local"
        self.t_hangup = time.monotonic()
        self._ended.set()
        if self._rtp_task:
            self._rtp_task.cancel()
        data = self._request("BYE", self.cseq, "z9hG4bK" + uuid.uuid4().hex[:16])
        with contextlib.suppress(SipError):
            await self._transaction((self.cseq, "BYE"), data, self._dialog_dest(), timeout,
                                    until_final=True)

    async def send_info_dtmf(self, key: str, duration_ms: int = 100) -> float:
        """DTMF by SIP INFO (application/dtmf-relay); returns the send time."""
        self.cseq += 1
        body = f"Signal={key}\r\nDuration={duration_ms}\r\n".encode()
        data = self._request("INFO", self.cseq, "z9hG4bK" + uuid.uuid4().hex[:16], body,
                             "application/dtmf-relay")
        t = time.monotonic()
        self.keys_sent.append(KeyTiming(key, t, t))
        await self._transaction((self.cseq, "INFO"), data, self._dialog_dest(), 4.0, True)
        return t

    # ------------------------------------------------------------ SIP in

    def _on_sip(self, data: bytes, addr, t: float) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            msg = SipMessage.parse(data)
            if msg.call_id != self.call_id:
                if msg.is_request and msg.method != "ACK":
                    self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
                return
            if msg.is_request:
                self._on_request(msg, addr, t)
            elif msg.cseq == (1, "INVITE"):
                self._on_invite_response(msg, t)
            elif msg.status >= 200:
                self._resolve(msg.cseq, msg)
        except (ValueError, IndexError, KeyError):
            return  # malformed: ignore, like a real UA would (after logging)

    def _reply(self, req: SipMessage, addr, code: int, reason: str, body: bytes = b"",
               ctype: str = "") -> None:
        to = req.get("to")
        if code > 100 and not tag_of(to):
            to += f";tag={self.from_tag}"
        headers = [("Via", v) for v in req.get_all("via")]
        headers += [("From", req.get("from")), ("To", to), ("Call-ID", req.call_id),
                    ("CSeq", req.get("cseq"))]
        if code == 200:
            headers.append(("Contact", self._contact()))
        if ctype:
            headers.append(("Content-Type", ctype))
        self._send_sip(build_message(f"SIP/2.0 {code} {reason}", headers, body), addr)

    def _on_request(self, msg: SipMessage, addr, t: float) -> None:
        method = msg.method
        if method == "ACK":
            return
        if method == "BYE":
            self._reply(msg, addr, 200, "OK")
            if not self.ended:
                self.hangup_by, self.t_hangup = "remote", t
                self._ended.set()
                if self._rtp_task:
                    self._rtp_task.cancel()
            return
        if method == "INVITE":  # re-INVITE (session refresh, hold...)
            if msg.body:
                self._apply_sdp(msg.body)
            body = build_sdp(self.local_ip, self.rtp_port,
                             [self.codec] if self.codec is not None else self.offer_payloads,
                             self.remote_dtmf_pt or self.offer_dtmf_pt, session_id=2)
            self._reply(msg, addr, 200, "OK", body, "application/sdp")
            return
        if method == "CANCEL":
            self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
            return
        self._reply(msg, addr, 200, "OK")  # UPDATE, INFO, OPTIONS, NOTIFY

    # ------------------------------------------------------------ RTP out

    def _start_media(self) -> None:
        if self._rtp_task is None and self.remote_rtp:
            self._rtp_task = asyncio.get_running_loop().create_task(self._rtp_sender())

    def _send_rtp(self, pt: int, payload: bytes, ts: int, marker: bool = False) -> float:
        pkt = rtp_header(pt, self._seq, ts, self._ssrc, marker) + payload
        self._seq = (self._seq + 1) & 0xFFFF
        if self._rtp_tr and self.remote_rtp:
            self._rtp_tr.sendto(pkt, self.remote_rtp)
        return time.monotonic()

    async def _rtp_sender(self) -> None:
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        key: _Key | None = None
        key_ts = key_step = 0
        end_sent = 0
        while True:
            n += 1
            delay = start + n * FRAME_S - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.2:  # we were stalled: resynchronise instead of bursting
                start, n = loop.time(), 0
            self._ts = (self._ts + SAMPLES_PER_FRAME) & 0xFFFFFFFF
            if key is None and not self._keys.empty():
                key = self._keys.get_nowait()
                key_ts, key_step, end_sent = self._ts, 0, 0
            if key is not None:
                pt = self.remote_dtmf_pt if self.remote_dtmf_pt is not None \
                    else self.offer_dtmf_pt
                steps = max(1, key.duration_ms // 20)
                key_step += 1
                dur = min(key_step, steps) * SAMPLES_PER_FRAME
                is_end = key_step >= steps
                t_sent = self._send_rtp(pt, dtmf_payload(key.event, is_end, dur), key_ts,
                                        marker=key_step == 1)
                if key_step == 1:
                    key.t_first = t_sent
                if is_end:
                    end_sent += 1
                    if end_sent == 1 and not key.future.done():
                        key.future.set_result(t_sent)
                    if end_sent >= 3:
                        key = None
                continue
            if self.send_silence and self.codec is not None:
                self._send_rtp(self.codec, bytes([SILENCE_BYTE[self.codec]]) * 160, self._ts)

    async def send_dtmf(self, key: str, duration_ms: int = 100, timeout: float = 5.0) -> float:
        """Send one RFC 4733 key; return the monotonic time of its first end packet."""
        if key.upper() not in DTMF_EVENTS:
            raise ValueError(f"not a DTMF key: {key!r}")
        if not self.connected or self.ended or self._rtp_task is None:
            raise SipError("call is not up")
        fut = asyncio.get_running_loop().create_future()
        item = _Key(DTMF_EVENTS[key.upper()], duration_ms, fut)
        await self._keys.put(item)
        t_end = await asyncio.wait_for(fut, timeout)
        self.keys_sent.append(KeyTiming(key, item.t_first, t_end))
        return t_end

    async def send_digits(self, keys: str, duration_ms: int = 100,
                          gap_ms: int = 100) -> list[float]:
        """Send several keys, ``gap_ms`` of audio after each key's three end packets."""
        out = []
        for k in keys:
            out.append(await self.send_dtmf(k, duration_ms))
            await asyncio.sleep((40 + gap_ms) / 1000)  # 2 end retransmissions + gap
        return out

    # ------------------------------------------------------------ RTP in

    def _on_rtp(self, data: bytes, addr, t: float) -> None:
        parsed = parse_rtp(data)
        if parsed is None:
            return
        pt, _marker, _seq, _ts, payload = parsed
        self.rtp_received += 1
        if pt in (PCMU, PCMA):
            for off in range(0, len(payload), SAMPLES_PER_FRAME):
                self._add_frame(t, frame_dbfs(payload[off:off + SAMPLES_PER_FRAME], pt))
        elif pt == CN:
            self._add_frame(t, -120.0)
        elif pt == self.remote_dtmf_pt and len(payload) >= 4:
            self.remote_dtmf.append((payload[0], t))

    def _add_frame(self, t: float, dbfs: float) -> None:
        self.frames.append((t, dbfs))
        self._times.append(t)
        if dbfs >= self.threshold_dbfs:
            self._loud.append(len(self.frames) - 1)

    def loud_times(self) -> list[float]:
        return [self.frames[i][0] for i in self._loud]

    def _first_loud_index(self, since: float) -> int:
        """Index into self._loud of the first loud frame arriving at or after ``since``."""
        lo = bisect.bisect_left(self._times, since)
        return bisect.bisect_left(self._loud, lo)

    async def _poll(self, check, timeout: float, what: str):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result is not None:
                return result
            if loop.time() >= deadline:
                raise TimeoutError(f"{what}: nothing within {timeout:.1f} s")
            if self.ended:
                raise SipError(f"{what}: call ended ({self.hangup_by} hang-up)")
            await asyncio.sleep(0.005)

    async def first_audio_after(self, t: float, *, timeout: float = 10.0,
                                min_gap_ms: float = 0.0) -> float:
        """Arrival time of the first audible 20 ms frame at or after ``t``.

        With ``min_gap_ms`` the frame must also start a new burst: no audible frame in the
        ``min_gap_ms`` before it (so the tail of a prompt interrupted at ``t`` is skipped).
        """
        gap = min_gap_ms / 1000.0

        def check():
            j = self._first_loud_index(t)
            while j < len(self._loud):
                ft = self.frames[self._loud[j]][0]
                prev = self.frames[self._loud[j - 1]][0] if j > 0 else -math.inf
                if gap <= 0 or ft - prev >= gap:
                    return ft
                j += 1
            return None

        return await self._poll(check, timeout, "first_audio_after")

    async def wait_audio(self, since: float | None = None, timeout: float = 10.0) -> float:
        """Wait for the first audible frame (after ``since``, default: call start)."""
        return await self.first_audio_after(since if since is not None else self.t_invite,
                                            timeout=timeout)

    async def wait_quiet(self, quiet_s: float = 1.5, since: float | None = None,
                         timeout: float = 30.0) -> float:
        """Wait until audio was heard (after ``since``) and then nothing audible for
        ``quiet_s``; return the arrival time of the last audible frame (end of prompt)."""
        since = self.t_invite if since is None else since

        def check():
            j = self._first_loud_index(since)
            if j >= len(self._loud):
                return None
            last = self.frames[self._loud[-1]][0]
            return last if time.monotonic() - last >= quiet_s else None

        return await self._poll(check, timeout, "wait_quiet")

    async def wait_loud_now(self, frames: int = 3, timeout: float = 2.0) -> float:
        """Wait until the last ``frames`` frames received were all audible and the latest
        arrived within 30 ms (the far end is mid-phrase); return that frame's time."""

        def check():
            tail = self.frames[-frames:]
            if len(tail) == frames and all(db >= self.threshold_dbfs for _, db in tail) \
                    and time.monotonic() - tail[-1][0] < 0.03:
                return tail[-1][0]
            return None

        return await self._poll(check, timeout, "wait_loud_now")

    def last_audio_between(self, t0: float, t1: float) -> float | None:
        """Arrival time of the last audible frame in [t0, t1), or None."""
        j = self._first_loud_index(t0)
        last = None
        while j < len(self._loud) and self.frames[self._loud[j]][0] < t1:
            last = self.frames[self._loud[j]][0]
            j += 1
        return last
