"""SipCaller against sipp callees scripted here (and a few pure unit checks)."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import numpy as np
import pytest

from benchmarks import sipp
from benchmarks.sipcaller import (
    DECODE,
    PCMA,
    PCMU,
    Sdp,
    SipCaller,
    SipError,
    SipMessage,
    encode_linear,
    frame_dbfs,
)
from benchmarks.standin_ivr import StandinIvr, comfort_noise
from tests.benchmarks.conftest import needs_sipp

# ------------------------------------------------------------------ pure units


def test_g711_tables_and_levels():
    assert DECODE[PCMU][0xFF] == 0 and DECODE[PCMU][0x7F] == 0
    assert abs(int(DECODE[PCMA][0xD5])) == 8
    assert DECODE[PCMU][0x00] == -32124 and DECODE[PCMA][0xAA] == 32256
    x = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
    for pt in (PCMU, PCMA):
        back = DECODE[pt][np.frombuffer(encode_linear(x, pt), np.uint8)]
        assert np.max(np.abs(back.astype(int) - x)) < 300
        assert frame_dbfs(encode_linear(x, pt), pt) == pytest.approx(-15.2, abs=0.5)
        noise = encode_linear(comfort_noise(-70.0, 0.02), pt)
        assert frame_dbfs(noise, pt) < -55  # comfort noise stays far below -40 dBFS
    assert frame_dbfs(b"\xff" * 160, PCMU) == -120.0


def test_sip_message_parse_compact_and_lists():
    raw = (b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b;branch=2\r\n"
           b"Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\nf: <sip:x@y>;tag=1\r\n"
           b"t: \"A, B\" <sip:95598@h>;tag=9\r\ni: abc\r\nCSeq: 1 INVITE\r\nl: 4\r\n\r\nv=0\r\n")
    m = SipMessage.parse(raw)
    assert m.status == 200 and m.method == "INVITE" and m.call_id == "abc"
    assert len(m.get_all("via")) == 2 and m.get_all("record-route")[1] == "<sip:p2;lr>"
    assert m.body == b"v=0\r" and m.get("to").endswith("tag=9")


def test_sdp_parse_picks_codec_and_event():
    sdp = Sdp.parse(b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 8 0 96\r\n"
                    b"a=rtpmap:96 telephone-event/8000\r\n")
    assert (sdp.ip, sdp.port, sdp.codec(), sdp.telephone_event()) == ("10.0.0.1", 4000, PCMA, 96)


# ------------------------------------------------------------------ against sipp


@pytest.mark.sip
@needs_sipp
def test_call_audio_detection_and_local_bye(sipp_uas, prompt_pcap):
    port = sipp_uas.start(sipp.uas_prompt_xml(prompt_pcap))

    async def go():
        async with SipCaller(f"sip:95598@127.0.0.1:{port}") as call:
            assert [s for _, s in call.responses][-1] == 200 and 180 in dict(
                (s, t) for t, s in call.responses)
            assert call.codec == PCMA and call.remote_dtmf_pt == 101  # answer order wins
            first = await call.wait_audio(timeout=5)
            end = await call.wait_quiet(0.25, since=first, timeout=5)
            return call, first - call.t_answer, end - first

    call, onset, length = asyncio.run(go())
    assert 0.47 <= onset <= 0.58, onset  # the 0.5 s of comfort noise did not count
    assert 0.94 <= length <= 1.02, length  # last audible frame of the 1 s tone
    assert call.hangup_by == "local"
    run = sipp_uas.runs[0]
    assert run.wait() == 0 and run.stats().successful == 1  # sipp got BYE and sent 200


@pytest.mark.sip
@needs_sipp
def test_remote_bye_is_answered(sipp_uas, prompt_pcap):
    port = sipp_uas.start(sipp.uas_prompt_xml(prompt_pcap, hangup_after_ms=1200))

    async def go():
        async with SipCaller(f"127.0.0.1:{port}") as call:
            assert await call.wait_ended(5)
            with pytest.raises(SipError):
                await call.send_dtmf("1")
            return call

    call = asyncio.run(go())
    assert call.hangup_by == "remote" and 1.1 <= call.t_hangup - call.t_answer <= 1.5
    run = sipp_uas.runs[0]
    assert run.wait() == 0 and run.stats().successful == 1  # our 200 reached sipp


@pytest.mark.sip
@needs_sipp
def test_rfc4733_packets_and_key_timestamps(sipp_uas, prompt_pcap):
    """sipp's answer points our RTP at a sink socket: check silence and DTMF packets."""
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(0.2)
    sink_port = sink.getsockname()[1]
    port = sipp_uas.start(sipp.uas_prompt_xml(prompt_pcap, answer_pts="0 101",
                                              sdp_port=str(sink_port)))
    got: list[tuple[float, bytes]] = []

    async def go():
        loop = asyncio.get_running_loop()

        def drain():
            end = time.monotonic() + 1.6
            while time.monotonic() < end:
                try:
                    data = sink.recv(2048)
                    got.append((time.monotonic(), data))
                except TimeoutError:
                    pass

        async with SipCaller(f"sip:95598@127.0.0.1:{port}") as call:
            reader = loop.run_in_executor(None, drain)
            await asyncio.sleep(0.3)
            t5 = await call.send_dtmf("5", duration_ms=100)
            t_hash = await call.send_digits("#", duration_ms=60)
            await reader
            return call, t5, t_hash[0]

    call, t5, t_hash = asyncio.run(go())
    sink.close()
    pkts = [(t, d[1] & 0x7F, bool(d[1] & 0x80), *struct.unpack("!HII", d[2:12]), d[12:])
            for t, d in got]
    audio = [p for p in pkts if p[1] == 0]
    assert len(audio) > 40 and all(p[-1] == b"\xff" * 160 for p in audio)
    gaps = np.diff([p[0] for p in pkts])
    assert np.median(gaps) == pytest.approx(0.020, abs=0.003)  # one packet every 20 ms
    seqs = [p[3] for p in pkts]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    events = [p for p in pkts if p[1] == 101]
    for key, dur_packets, t_end in ((5, 5, t5), (11, 3, t_hash)):
        ev = [p for p in events if p[-1][0] == key]
        assert len(ev) == dur_packets + 2  # the end packet is sent three times
        assert ev[0][2] and not any(p[2] for p in ev[1:])  # marker on the first only
        assert len({p[4] for p in ev}) == 1  # one RTP timestamp for the event
        durations = [struct.unpack("!H", p[-1][2:4])[0] for p in ev]
        assert durations == [160 * min(i + 1, dur_packets) for i in range(len(ev))]
        ends = [bool(p[-1][1] & 0x80) for p in ev]
        assert ends == [False] * (dur_packets - 1) + [True] * 3
        first_end_arrival = next(p[0] for p in ev if p[-1][1] & 0x80)
        assert abs(first_end_arrival - t_end) < 0.005  # the recorded key time is the send
    assert [k.key for k in call.keys_sent] == ["5", "#"]
    assert call.keys_sent[0].t_end - call.keys_sent[0].t_first == pytest.approx(0.08, abs=0.01)


def test_rejected_invite_raises_with_code():
    async def go():
        ivr = StandinIvr(port=0, max_calls=0)
        await ivr.start()
        try:
            with pytest.raises(SipError) as err:
                async with SipCaller(f"sip:95598@127.0.0.1:{ivr.port}"):
                    pass
            return err.value.code
        finally:
            await ivr.stop()

    assert asyncio.run(go()) == 486


def test_invite_timeout_when_nobody_answers():
    async def go():
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            caller = SipCaller(f"127.0.0.1:{silent.getsockname()[1]}", invite_timeout=1.2)
            with pytest.raises(SipError):
                async with caller:
                    pass
            silent.settimeout(0.1)
            n = 0
            with pytest.raises(TimeoutError):
                while True:
                    silent.recv(4096)
                    n += 1
            return n
        finally:
            silent.close()

    assert asyncio.run(go()) == 2  # INVITE at 0 and 0.5 s; the next (1.5 s) is past 1.2 s
