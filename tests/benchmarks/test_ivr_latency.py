"""The latency probe against the stand-in IVR, whose reaction delay is known."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks import ivr_latency
from benchmarks.ivr_latency import WalkOptions, percentile, run, summarize
from benchmarks.standin_ivr import StandinIvr

ACCOUNT = "1500000001"


def test_percentile_nearest_rank():
    vals = list(range(1, 101))
    assert (percentile(vals, 50), percentile(vals, 95), percentile(vals, 100)) == (50, 95, 100)
    assert percentile([7.0], 95) == 7.0


async def _probe(delay_ms: float, press: str, calls: int = 2, concurrency: int = 1):
    ivr = StandinIvr(port=0, delay_ms=delay_ms, lead_ms=0.0, prompt_scale=0.3)
    await ivr.start()
    try:
        opts = WalkOptions(f"sip:95598@127.0.0.1:{ivr.port}", ACCOUNT, press=press,
                           quiet_s=0.8)
        results, calib = await run(opts, calls, concurrency)
        return results, calib, ivr
    finally:
        await ivr.stop()


@pytest.mark.sip
@pytest.mark.parametrize("delay_ms", [0.0, 80.0])
def test_after_prompt_latency_matches_known_delay(delay_ms):
    results, calib, ivr = asyncio.run(_probe(delay_ms, "after", calls=2, concurrency=2))
    assert calib is None and all(r.ok for r in results), [r.error for r in results]
    for r in results:
        for step in ivr_latency.STEPS:
            # reaction delay + up to one 20 ms send tick + the tone's 10 ms ramp + scheduling
            assert delay_ms - 2 <= r.latency_ms[step] <= delay_ms + 40, (step, r.latency_ms)
    rows, ok = summarize(results, p95_ms=delay_ms + 40)
    assert ok and [row["n"] for row in rows] == [2, 2, 2]
    assert ivr.keys_total == 2 * 13  # 1, ten digits, #, 1 per call


@pytest.mark.sip
def test_barge_in_skips_the_interrupted_prompt():
    results, calib, _ = asyncio.run(_probe(100.0, "during", calls=1))
    assert calib is not None and calib.opening_s and calib.opening_s > 2.5
    (r,) = results
    assert r.ok, r.error
    # the menu prompt goes on for ~0-20 ms after the key (until the stand-in stops it); that
    # tail is not the next prompt: the new prompt starts ~100 ms after the key
    assert 98 <= r.latency_ms["menu 1"] <= 140
    assert r.barge_stop_ms is not None and r.barge_stop_ms <= 45


@pytest.mark.sip
def test_cli_exit_status_follows_target(standin, capsys):
    port, _ = standin(delay_ms=60.0, lead_ms=0.0)
    args = ["--target", f"sip:95598@127.0.0.1:{port}", "--account", ACCOUNT, "--calls", "1",
            "--quiet-s", "0.8", "--max-seconds", "60"]
    assert ivr_latency.main([*args, "--p95-ms", "150"]) == 0
    out = capsys.readouterr().out
    assert "account #" in out and "RESULT: PASS" in out
    assert ivr_latency.main([*args, "--p95-ms", "30"]) == 1
    assert "MISSED" in capsys.readouterr().out


def test_cli_rejects_bad_account():
    with pytest.raises(SystemExit):
        ivr_latency.main(["--target", "127.0.0.1:1", "--account", "123"])


def test_no_answer_is_a_failed_call_not_a_crash():
    opts = WalkOptions("sip:95598@127.0.0.1:9", ACCOUNT, invite_timeout_s=1.0)  # nobody there
    res = asyncio.run(ivr_latency.walk_menu(opts))
    assert not res.ok and res.error.startswith("setup")
