"""sipp scenarios (built here, saved under benchmarks/scenarios/) and a bounded sipp runner.

    python -m benchmarks.sipp --write   # regenerate benchmarks/scenarios/*.xml
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.sipcaller import DTMF_EVENTS, dtmf_payload, rtp_header

PCAP_DIR = Path("/usr/share/sip-tester")
SCENARIO_DIR = Path(__file__).with_name("scenarios")
DEFAULT_ACCOUNT = "1500000001"
PCAP_NAME = {**{str(d): f"dtmf_2833_{d}.pcap" for d in range(10)},
             "#": "dtmf_2833_pound.pcap", "*": "dtmf_2833_star.pcap"}
KEY_NAME = {"#": "pound", "*": "star"}


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    """Write (time s, RTP bytes) as Ethernet/IPv4/UDP frames to a pcap that sipp can play."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, rtp in packets:
            udp = struct.pack("!HHHH", 6000, 6002, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            eth = b"\x00" * 12 + b"\x08\x00" + ip
            t_us = round(t * 1_000_000)
            f.write(struct.pack("<IIII", 1_700_000_000 + t_us // 1_000_000, t_us % 1_000_000,
                                len(eth), len(eth)))
            f.write(eth)


def write_dtmf_pcaps(keys: list[tuple[str, int]], outdir: Path,
                     duration_ms: int = 100) -> list[Path]:
    """One pcap per key press, together one coherent RFC 4733 stream (payload 101).

    SIPp's own dtmf_2833_*.pcap files are replayed verbatim: pressing the same key twice
    sends the same SSRC, sequence numbers and timestamp again, so a receiver (pjmedia
    included) takes the second press for a duplicate of the first and the sequence jumps
    back and forth. Here every press has its own timestamp (its start time at 8 kHz) and
    the sequence numbers run on. ``keys`` are (key, start ms from the first key).
    Each press: 4 updates and the end packet sent three times, 20 ms apart (RFC 4733).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    seq, ssrc, paths = 20000, 0x5EED1234, []
    steps = max(1, duration_ms // 20)
    for i, (key, start_ms) in enumerate(keys):
        ts = 160_000 + start_ms * 8
        pkts = []
        for step in range(1, steps + 3):
            end = step >= steps
            dur = min(step, steps) * 160
            pkts.append(((step - 1) * 0.02, rtp_header(101, seq, ts, ssrc, marker=step == 1)
                         + dtmf_payload(DTMF_EVENTS[key], end, dur)))
            seq += 1
        path = outdir / f"{i + 1:02d}_{KEY_NAME.get(key, key)}.pcap"
        write_pcap(path, pkts)
        paths.append(path)
    return paths

_HEAD = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'

_INVITE = """  <send retrans="500">
    <![CDATA[

      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:bench[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:bench[call_number]@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: hotline-bench-sipp
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- [pid][call_number] 1 IN IP[local_ip_type] [local_ip]
      s=hotline-bench
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 8 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
      a=ptime:20
      a=sendrecv

    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>

  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:bench[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:bench[call_number]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""

_BYE = """  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: <sip:bench[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:bench[call_number]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200" crlf="true"/>
"""


def _key(pcap: str, pause_ms: int) -> str:
    return (f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
            f'  <pause milliseconds="{pause_ms}"/>\n')


def menu_keys(account: str, account_wait_ms: int, digit_gap_ms: int,
              readback_wait_ms: int) -> list[tuple[str, int, int]]:
    """(key, start ms from the first key, pause after it) of the menu walk."""
    plan = [("1", account_wait_ms)] + [(d, digit_gap_ms) for d in account]
    plan += [("#", readback_wait_ms), ("1", -1)]
    out, t = [], 0
    for key, pause in plan:
        out.append((key, t, pause))
        t += max(pause, 0)
    return out


def uac_menu_xml(account: str = DEFAULT_ACCOUNT, *, menu_wait_ms: int = 10000,
                 account_wait_ms: int = 5000, digit_gap_ms: int = 250,
                 readback_wait_ms: int = 6000, balance_wait_ms: int = 6000,
                 pcap_dir: Path | str = "dtmf", sipp_pcaps: bool = False) -> str:
    """A caller walking the 95598 menu: 1, the account and #, 1 to confirm, then BYE.

    Keys go as RFC 4733 (payload 101) from pcaps made by ``write_dtmf_pcaps`` into
    ``pcap_dir`` (named ``01_1.pcap``, ``02_1.pcap``...), or with ``sipp_pcaps`` from
    SIPp's own files (repeated keys then look like duplicates: see write_dtmf_pcaps).
    ``digit_gap_ms`` (>= 200) is the time from one key's start to the next one's.
    """
    if not (len(account) == 10 and account.isdigit()):
        raise ValueError("account must be 10 digits")
    keys = menu_keys(account, account_wait_ms, digit_gap_ms, readback_wait_ms)
    pcaps = [str(PCAP_DIR / PCAP_NAME[k]) if sipp_pcaps
             else f"{pcap_dir}/{i + 1:02d}_{KEY_NAME.get(k, k)}.pcap"
             for i, (k, _t, _p) in enumerate(keys)]
    notes = {0: "1: 电费查询", 1: f"account {account} and #", 12: "1: confirm the account"}
    body = [_HEAD, '<scenario name="hotline 95598 menu walk (1, account #, 1)">\n', _INVITE,
            "\n  <!-- greeting (with recording notice) and main menu -->\n"
            f'  <pause milliseconds="{menu_wait_ms}"/>\n']
    for i, ((_k, _t, pause), pcap) in enumerate(zip(keys, pcaps, strict=True)):
        if i in notes:
            body.append(f"  <!-- {notes[i]} -->\n")
        body.append(_key(pcap, balance_wait_ms if pause < 0 else pause))
    body += [_BYE, '\n  <ResponseTimeRepartition value="100, 200, 500, 1000, 2000"/>\n'
             '  <CallLengthRepartition value="10000, 20000, 30000, 40000, 60000"/>\n'
             "</scenario>\n"]
    return "".join(body)


def write_uac_menu(outdir: Path, account: str = DEFAULT_ACCOUNT, relative: bool = False,
                   **waits) -> Path:
    """Scenario plus its DTMF pcaps under ``outdir``/dtmf (absolute paths in the XML, or
    ``dtmf/..`` with ``relative``: then run sipp from ``outdir``)."""
    keys = menu_keys(account, waits.get("account_wait_ms", 5000),
                     waits.get("digit_gap_ms", 250), waits.get("readback_wait_ms", 6000))
    write_dtmf_pcaps([(k, t) for k, t, _ in keys], outdir / "dtmf")
    pcap_dir = "dtmf" if relative else outdir.resolve() / "dtmf"
    path = outdir / "uac_menu.xml"
    path.write_text(uac_menu_xml(account, pcap_dir=pcap_dir, **waits))
    return path


def uas_prompt_xml(pcap: Path = PCAP_DIR / "g711a.pcap", *, answer_pts: str = "8 0 101",
                   play_after_ms: int = 0, hangup_after_ms: int | None = None,
                   sdp_port: str = "[media_port]") -> str:
    """A stand-in callee: answers, plays ``pcap`` after the ACK, then waits for the caller's
    BYE (or, with ``hangup_after_ms``, sends its own BYE that long after the ACK)."""
    rtpmap = {"0": "a=rtpmap:0 PCMU/8000", "8": "a=rtpmap:8 PCMA/8000",
              "101": "a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16"}
    maps = "\n      ".join(rtpmap[p] for p in answer_pts.split())
    ok = f"""  <recv request="INVITE" crlf="true"/>

  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:95598@[local_ip]:[local_port]>
      Content-Length: 0

    ]]>
  </send>

  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:95598@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=stand-in
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {sdp_port} RTP/AVP {answer_pts}
      {maps}
      a=sendrecv

    ]]>
  </send>

  <recv request="ACK" crlf="true"/>
"""
    play = ""
    if play_after_ms:
        play += f'  <pause milliseconds="{play_after_ms}"/>\n'
    play += f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n'
    if hangup_after_ms is None:
        end = """
  <recv request="BYE"/>

  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""
    else:
        end = f"""
  <pause milliseconds="{hangup_after_ms - play_after_ms}"/>

  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:95598@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$caller]
      [last_Call-ID:]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200"/>
"""
        # remember the caller's From (with its tag) for our BYE's To
        ok = ok.replace('<recv request="INVITE" crlf="true"/>',
                        '<recv request="INVITE" crlf="true" rrs="true">\n'
                        '    <action><ereg regexp=".*" search_in="hdr" header="From:" '
                        'assign_to="caller"/></action>\n  </recv>')
    return (_HEAD + '<scenario name="stand-in callee: answer and play a pcap">\n' + ok + play
            + end + "</scenario>\n")


# --------------------------------------------------------------------------- running sipp


def free_udp_port(pair: bool = False) -> int:
    """A free 127.0.0.1 UDP port (even, with port+2 free too, when ``pair``)."""
    for _ in range(200):
        port = random.randrange(20000, 60000, 2)
        socks = []
        try:
            for p in ((port, port + 1, port + 2, port + 3) if pair else (port,)):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port")


@dataclass
class SippStats:
    created: int = 0
    successful: int = 0
    failed: int = 0
    current: int = 0
    peak_current: int = 0


def read_stats(path: Path, prev: SippStats | None = None) -> SippStats:
    """Last row of sipp's ``-trace_stat`` CSV (``;``-separated); keeps the peak."""
    st = SippStats(peak_current=prev.peak_current if prev else 0)
    try:
        rows = list(csv.reader(path.read_text().splitlines(), delimiter=";"))
    except OSError:
        return prev or st
    if len(rows) < 2:
        return prev or st
    head = rows[0]
    for row in rows[1:]:
        rec = dict(zip(head, row, strict=False))
        with_int = {k: int(v) for k, v in rec.items() if v.strip().isdigit()}
        st.peak_current = max(st.peak_current, with_int.get("CurrentCall", 0))
    st.created = with_int.get("TotalCallCreated", 0)
    st.successful = with_int.get("SuccessfulCall(C)", 0)
    st.failed = with_int.get("FailedCall(C)", 0)
    st.current = with_int.get("CurrentCall", 0)
    return st


class Sipp:
    """One bounded sipp run as a child process (killed by its PID on timeout)."""

    def __init__(self, scenario: Path, workdir: Path, args: list[str], timeout_s: float):
        self.scenario, self.workdir, self.timeout_s = scenario, workdir, timeout_s
        self.stat_file = workdir / f"{scenario.stem}_stat.csv"
        self.err_file = workdir / f"{scenario.stem}_errors.log"
        self.screen_file = workdir / f"{scenario.stem}_screen.log"
        self.cmd = ["sipp", *args, "-sf", str(scenario), "-nostdin", "-trace_stat", "-stf",
                    str(self.stat_file), "-fd", "1", "-trace_err", "-error_file",
                    str(self.err_file), "-trace_screen", "-screen_file", str(self.screen_file),
                    "-timeout", f"{int(timeout_s)}s", "-timeout_error"]
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    def start(self) -> Sipp:
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp not found: apt-get install -y sip-tester")
        for f in (self.stat_file, self.err_file, self.screen_file):
            f.unlink(missing_ok=True)
        self.log = open(self.workdir / f"{self.scenario.stem}_stdout.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir)
        self._t0 = time.monotonic()
        return self

    def poll(self) -> int | None:
        return self.proc.poll() if self.proc else None

    def stats(self, prev: SippStats | None = None) -> SippStats:
        return read_stats(self.stat_file, prev)

    def wait(self, extra_s: float = 15.0) -> int:
        assert self.proc
        try:
            self.returncode = self.proc.wait(max(self.timeout_s + extra_s
                                                 - (time.monotonic() - self._t0), 1))
        except subprocess.TimeoutExpired:
            self.stop()
        self.log.close()
        return self.returncode if self.returncode is not None else -9

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.returncode = self.proc.returncode if self.proc else None

    def errors_tail(self, n: int = 5) -> list[str]:
        try:
            lines = [ln for ln in self.err_file.read_text(errors="replace").splitlines()
                     if ln.strip()]
        except OSError:
            return []
        return lines[-n:]


def write_scenarios(out: Path = SCENARIO_DIR) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "uas_prompt.xml").write_text(uas_prompt_xml())
    uac = write_uac_menu(out, relative=True)
    return [uac, out / "uas_prompt.xml", *sorted((out / "dtmf").glob("*.pcap"))]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description="write the sipp scenarios")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--out", default=str(SCENARIO_DIR))
    a = ap.parse_args()
    if a.write:
        for p in write_scenarios(Path(a.out)):
            print(p.relative_to(Path(os.getcwd())) if p.is_relative_to(os.getcwd()) else p)
