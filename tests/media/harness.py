"""Test harness: a MediaServer with a small controller, free ports, and a sipp runner."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import subprocess
import time
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hotline.settings import Settings
from ivr.media import protocol as p
from ivr.media.call import MediaCall
from ivr.media.server import MediaServer
from tests.ports import free_block

SCENARIOS = Path(__file__).parent / "scenarios"
PCAPS = Path("/usr/share/sip-tester")
DEFAULT_KEYS = {"codec_pt": "8", "codec_name": "PCMA", "te_pt": "101"}


def media_settings(tmp_path: Path, workers: int = 2, **overrides) -> Settings:
    sip = free_block(workers + 1)
    rtp_per_worker = 20
    values = dict(
        address="127.0.0.1",
        sip_port=sip,
        rtp_base_port=free_block(workers * rtp_per_worker),
        rtp_ports_per_worker=rtp_per_worker,
        media_workers=workers,
        legs_per_worker=4,
        data_dir=tmp_path,
        invite_rate_limit=50,
        rtp_timeout_seconds=30.0,
        max_call_seconds=300.0,
        log_level="INFO",
    )
    values.update(overrides)
    return Settings(**values)


@dataclass
class CallLog:
    call: MediaCall
    events: list[p.Event] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # monotonic arrival time of each event
    record_path: Path | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def time_of(self, kind: type) -> float:
        return next(t for e, t in zip(self.events, self.times, strict=True) if isinstance(e, kind))

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def digits(self) -> str:
        return "".join(e.digit for e in self.of(p.Dtmf))

    @property
    def hangup(self) -> p.CallHangup | None:
        found = self.of(p.CallHangup)
        return found[0] if found else None


class TestController:
    """Answers every call, records it, plays the prompt in a loop until the call ends."""

    __test__ = False

    def __init__(self, prompt: Path, record_dir: Path, loop_prompt: bool = True) -> None:
        self.prompt = prompt
        self.record_dir = record_dir
        self.loop_prompt = loop_prompt
        self.calls: dict[str, CallLog] = {}
        self.reject_code = 0

    async def on_incoming(self, call: MediaCall) -> None:
        entry = self.calls[call.call_id] = CallLog(call)
        if self.reject_code:
            await call.reject(self.reject_code)
        else:
            entry.record_path = self.record_dir / f"{call.call_id}.wav"
            await call.answer(entry.record_path)
            await call.play([self.prompt])
        asyncio.ensure_future(self._follow(entry))

    async def _follow(self, entry: CallLog) -> None:
        while True:
            event = await entry.call.next_event(timeout=120)
            if event is None:
                break
            entry.events.append(event)
            entry.times.append(time.monotonic())
            if isinstance(event, p.CallHangup):
                break
            if isinstance(event, p.PromptDone) and self.loop_prompt and not event.interrupted:
                await entry.call.play([self.prompt])
        entry.done.set()

    async def wait_ended(self, count: int, timeout: float = 30.0) -> list[CallLog]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = [c for c in self.calls.values() if c.done.is_set()]
            if len(ended) >= count:
                return ended
            await asyncio.sleep(0.1)
        raise AssertionError(f"only {len(ended)} of {count} calls ended: {self.calls}")

    async def wait_calls(self, count: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert len(self.calls) >= count, f"{len(self.calls)} of {count} calls arrived"


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    errors: str
    log: str

    @property
    def results(self) -> list[int]:
        """Final status codes logged by probe.xml (``RESULT <code>`` lines)."""
        return [int(line.split()[1]) for line in self.log.splitlines()
                if line.startswith("RESULT ")]

    def describe(self) -> str:
        return f"rc={self.returncode}\n{self.errors[-3000:]}\n{self.stderr[-1000:]}"


def rewrite_rtp_pt(src: Path, dst: Path, payload_type: int) -> Path:
    """Copy a pcap of RTP packets (Ethernet/IPv4/UDP) with another RTP payload type."""
    data = bytearray(src.read_bytes())
    offset = 24
    while offset + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, offset + 8)[0]
        packet = offset + 16
        rtp = packet + 14 + (data[packet + 14] & 0x0F) * 4 + 8
        data[rtp + 1] = (data[rtp + 1] & 0x80) | payload_type
        offset = packet + caplen
    dst.write_bytes(bytes(data))
    return dst


def _prepare_pcaps(workdir: Path, te_pt: int) -> None:
    (workdir / "g711a.pcap").write_bytes((PCAPS / "g711a.pcap").read_bytes())
    rewrite_rtp_pt(PCAPS / "dtmf_2833_1.pcap", workdir / "dtmf_1.pcap", te_pt)
    rewrite_rtp_pt(PCAPS / "dtmf_2833_pound.pcap", workdir / "dtmf_pound.pcap", te_pt)


async def run_sipp(
    scenario: str,
    target: str,
    workdir: Path,
    *,
    calls: int = 1,
    rate: float = 10,
    limit: int | None = None,
    local_ip: str = "127.0.0.1",
    service: str = "95598",
    keys: dict[str, str] | None = None,
    hold_ms: int = 1000,
    timeout: float = 60.0,
) -> SippResult:
    """Run sipp as a UAC; returncode 0 means every call went through its scenario."""
    sip_port = free_block(1)
    run_dir = workdir / f"sipp-{Path(scenario).stem}-{sip_port}"
    run_dir.mkdir(parents=True)
    all_keys = {**DEFAULT_KEYS, **(keys or {})}
    _prepare_pcaps(run_dir, int(all_keys["te_pt"]))
    error_file, log_file = run_dir / "errors.log", run_dir / "calls.log"
    args = [
        "sipp", target, "-sf", str(SCENARIOS / scenario), "-m", str(calls),
        "-r", str(rate), "-l", str(limit or calls), "-i", local_ip, "-p", str(sip_port),
        "-mi", local_ip, "-mp", str(free_block(4 * calls)), "-s", service, "-d", str(hold_ms),
        "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin",
        "-trace_err", "-error_file", str(error_file), "-trace_logs", "-log_file", str(log_file),
    ]
    for key, value in all_keys.items():
        args += ["-key", key, value]
    proc = await asyncio.create_subprocess_exec(
        *args, cwd=run_dir, stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout + 30)
    return SippResult(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"),
                      _read(error_file), _read(log_file))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def make_prompt(path: Path, seconds: float = 1.0) -> Path:
    """An 8 kHz mono 16-bit WAV: a tone (sox)."""
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path),
         "synth", str(seconds), "sine", "440", "vol", "0.5"],
        check=True,
    )
    return path




@contextlib.asynccontextmanager
async def media_server(tmp_path: Path, prompt: Path, *, workers: int = 2, **overrides):
    """A started MediaServer with a TestController; yields (server, controller, settings)."""
    settings = media_settings(tmp_path, workers=workers, **overrides)
    controller = TestController(prompt, tmp_path / "recordings")
    server = MediaServer(settings, controller.on_incoming)
    await server.start()
    try:
        yield server, controller, settings
    finally:
        await server.stop(timeout=5.0)


def wav_stats(path: Path) -> tuple[int, int, float]:
    """(sample rate, channels, RMS of the 16-bit samples)."""
    with wave.open(str(path), "rb") as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0
    return rate, channels, rms


def raw_invite(target: tuple[str, int], local: tuple[str, int | str], sdp: str,
               drop: tuple[str, ...] = (), extra: dict[str, str] | None = None) -> bytes:
    """A hand-made INVITE; header names in ``drop`` are left out (malformed SIP tests)."""
    tag = uuid.uuid4().hex[:10]
    headers = {
        "Via": f"SIP/2.0/UDP {local[0]}:{local[1]};branch=z9hG4bK{tag};rport",
        "Max-Forwards": "70",
        "From": f"<sip:13800000000@{local[0]}>;tag={tag}",
        "To": f"<sip:95598@{target[0]}:{target[1]}>",
        "Call-ID": f"{tag}@{local[0]}",
        "CSeq": "1 INVITE",
        "Contact": f"<sip:caller@{local[0]}:{local[1]}>",
        **(extra or {}),
        "Content-Type": "application/sdp",
        "Content-Length": str(len(sdp.encode())),
    }
    lines = [f"INVITE sip:95598@{target[0]}:{target[1]} SIP/2.0"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k not in drop]
    return ("\r\n".join(lines) + "\r\n\r\n" + sdp).encode()


def offer_sdp(ip: str, port: int, formats: str, rtpmaps: list[str]) -> str:
    lines = ["v=0", f"o=caller 1 1 IN IP4 {ip}", "s=-", f"c=IN IP4 {ip}", "t=0 0",
             f"m=audio {port} RTP/AVP {formats}", *[f"a=rtpmap:{m}" for m in rtpmaps]]
    return "\r\n".join(lines) + "\r\n"


def sip_exchange(target: tuple[str, int], payload: bytes, local_ip: str = "127.0.0.1",
                 wait: float = 2.0, full: bool = False) -> list[str]:
    """Send one datagram; return every reply (status line, or whole) within ``wait`` s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((local_ip, 0))
        local = sock.getsockname()
        data = payload.replace(b"LOCALPORT", str(local[1]).encode())
        sock.sendto(data, target)
        sock.settimeout(0.2)
        replies: list[str] = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                reply = sock.recv(65535).decode(errors="replace")
            except TimeoutError:
                if replies and not replies[-1].split()[1].startswith("1"):
                    break
                continue
            replies.append(reply if full else reply.split("\r\n", 1)[0])
        return replies


def final_code(replies: list[str]) -> int:
    finals = [int(r.split()[1]) for r in replies if r.startswith("SIP/2.0 ")
              and not r.split()[1].startswith("1")]
    return finals[0] if finals else 0
