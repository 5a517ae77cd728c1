"""The load driver against the stand-in IVR (sipp and SipCaller drivers)."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pytest

from benchmarks import ivr_load, sipp
from tests.benchmarks.conftest import needs_sipp

SHORT = ["--menu-wait-ms", "1500", "--account-wait-ms", "300", "--readback-wait-ms", "300",
         "--balance-wait-ms", "300", "--rate", "20"]


def _stop(proc) -> str:
    proc.terminate()
    proc.wait(10)
    return proc.log_path.read_text()


def test_committed_scenarios_match_the_generators(tmp_path):
    for path in sipp.write_scenarios(tmp_path):
        committed = sipp.SCENARIO_DIR / path.relative_to(tmp_path)
        if path.suffix == ".xml":
            assert path.read_text() == committed.read_text(), path.name
        else:
            assert path.read_bytes() == committed.read_bytes(), path.name
    xml = sipp.uac_menu_xml("0123456789", sipp_pcaps=True)
    keys = re.findall(r"dtmf_2833_(\w+)\.pcap", xml)
    assert keys == ["1", *"0123456789", "pound", "1"]


def test_generated_dtmf_stream_is_coherent(tmp_path):
    """Repeated keys get their own timestamps; sequence numbers run on across presses."""
    from benchmarks.sipcaller import parse_rtp

    paths = sipp.write_dtmf_pcaps([("0", 0), ("0", 250), ("#", 500)], tmp_path)
    pkts = []
    for path in paths:
        data = path.read_bytes()[24:]
        while data:
            n = int.from_bytes(data[8:12], "little")
            pkts.append(parse_rtp(data[16 + 42:16 + n]))
            data = data[16 + n:]
    assert [p[2] for p in pkts] == list(range(20000, 20000 + 21))
    assert sorted({p[3] for p in pkts}) == [160_000, 162_000, 164_000]
    ends = [p for p in pkts if p[4][1] & 0x80]
    assert len(ends) == 9 and [p[4][0] for p in ends[::3]] == [0, 0, 11]


def test_growth_per_call_fit():
    flat = [(0, 500), (100, 1000), (200, 1000), (300, 1000)]
    assert ivr_load.growth_per_call(flat) == 0  # warm-up (0 -> 100) left out
    leak = [(0, 0), (100, 10_000), (200, 20_000), (300, 30_000)]
    assert ivr_load.growth_per_call(leak) == pytest.approx(100.0)
    assert ivr_load.growth_per_call(flat[:3]) is None


def test_process_set_counts_children():
    code = "import subprocess, time; subprocess.Popen(['sleep', '20']); time.sleep(20)"
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        ps = ivr_load.ProcessSet([proc.pid])
        deadline = time.monotonic() + 5
        while len(ps.processes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {p.name() for p in ps.processes()} >= {"sleep"}
        rss, cpu, by_name = ps.sample()
        assert rss > 5 * 1024 * 1024 and cpu >= 0 and "sleep" in by_name
    finally:
        for child in ivr_load.ProcessSet([proc.pid]).processes()[1:]:
            child.kill()
        proc.kill()
        proc.wait()


@pytest.mark.sip
@needs_sipp
def test_sipp_driver_walks_the_menu(standin, tmp_path, capsys):
    port, proc = standin()
    assert ivr_load.find_root_by_port(port) == proc.pid
    rc = ivr_load.main(["--target", f"127.0.0.1:{port}", "--port", str(port),
                        "--concurrent", "8", "--calls", "12", "--row-concurrency", "4",
                        "--sample-every", "4", "--max-growth-kib", "4096",
                        "--workdir", str(tmp_path / "load"), *SHORT])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"calls completed\s+8\n", out) and re.search(r"calls completed\s+12\n", out)
    assert re.search(r"peak concurrent calls\s+8\n", out)
    assert "growth per call" in out and "RESULT: PASS" in out
    assert "stand-in IVR: 20 calls, 260 keys" in _stop(proc)  # 13 keys a call all arrived


@pytest.mark.sip
@needs_sipp
def test_refused_calls_fail_the_target(standin, tmp_path, capsys):
    port, proc = standin(max_calls=2)
    rc = ivr_load.main(["--target", f"sip:95598@127.0.0.1:{port}", "--pid", str(proc.pid),
                        "--concurrent", "3", "--calls", "0",
                        "--workdir", str(tmp_path / "load"), *SHORT])
    out = capsys.readouterr().out
    assert rc == 1
    assert re.search(r"failures\s+1\n", out) and "MISSED" in out and "RESULT: FAIL" in out


@pytest.mark.sip
def test_sipcaller_driver(standin, capsys):
    port, proc = standin()
    rc = ivr_load.main(["--target", f"127.0.0.1:{port}", "--pid", str(proc.pid),
                        "--driver", "sipcaller", "--concurrent", "2", "--calls", "2",
                        "--row-concurrency", "2", "--sample-every", "1",
                        "--max-growth-kib", "4096", "--rate", "20"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert len(re.findall(r"calls completed\s+2\n", out)) == 2
