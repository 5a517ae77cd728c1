"""Caller-side latency probe for the 95598 IVR.

Each call walks the menu with a plain-socket SIP caller (benchmarks.sipcaller):

  answer -> greeting and main menu -> key 1 -> account prompt -> 10 digits + # ->
  readback -> key 1 -> balance -> hang up

and measures, per step, from the FIRST end packet of the RFC 4733 key (the menu key, the
``#`` that ends the account, the confirming 1) to the first audible 20 ms frame of the next
prompt (an RMS level above ``--threshold-dbfs``; silence and comfort noise between prompts
do not count). With ``--press during`` the menu key interrupts the menu prompt (1 s before
its end, learned on a calibration call) and the next prompt is the first audio burst after
at least ``--gap-ms`` of quiet, so the tail of the interrupted prompt is not counted; the
time the old prompt took to stop is shown as "barge-in stop".

    python -m benchmarks.ivr_latency --target sip:95598@127.0.0.1:5070 \\
        --account 1500000001 --calls 20

Exit status: 0 when every step's p95 <= --p95-ms and no call failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass, field

from benchmarks.sipcaller import SipCaller, SipError

STEPS = ("menu 1", "account #", "confirm 1")


@dataclass
class WalkOptions:
    target: str
    account: str
    local_ip: str = "127.0.0.1"
    caller: str = "bench"
    press: str = "after"  # "after" the prompt ends, or "during" it (barge-in)
    quiet_s: float = 1.5  # silence that marks the end of a prompt
    gap_ms: float = 60.0  # quiet needed before a burst counts as a new prompt
    threshold_dbfs: float = -40.0
    step_timeout_s: float = 5.0
    first_audio_timeout_s: float = 15.0
    invite_timeout_s: float = 10.0
    digit_ms: int = 100
    digit_gap_ms: int = 120
    barge_before_s: float = 1.0
    opening_s: float | None = None  # learned on the calibration call (press=during)
    codecs: tuple[str, ...] = ("PCMU", "PCMA")
    linger_s: float = 0.3


@dataclass
class CallResult:
    ok: bool = False
    error: str = ""
    latency_ms: dict[str, float] = field(default_factory=dict)
    barge_stop_ms: float | None = None
    setup_ms: float | None = None
    first_audio_ms: float | None = None
    opening_s: float | None = None
    hangup_by: str = ""


async def _measure(call: SipCaller, opts: WalkOptions, t_key: float, since: float) -> float:
    """Latency (ms) from the key's end packet to the next prompt's first audible frame.

    After a prompt, the search starts at the key's first packet, so a product that reacts on
    key-down is seen (its latency comes out small or negative), not read as a later burst.
    """
    onset = await call.first_audio_after(since, timeout=opts.step_timeout_s,
                                         min_gap_ms=opts.gap_ms)
    return (onset - t_key) * 1000.0


async def walk_menu(opts: WalkOptions) -> CallResult:
    """One call through the menu; never raises for call-level failures."""
    res = CallResult()
    step = "setup"
    try:
        async with SipCaller(opts.target, opts.local_ip, caller=opts.caller,
                             codecs=opts.codecs, threshold_dbfs=opts.threshold_dbfs,
                             invite_timeout=opts.invite_timeout_s) as call:
            res.setup_ms = (call.t_answer - call.t_invite) * 1000
            step = "first audio"
            first = await call.wait_audio(timeout=opts.first_audio_timeout_s)
            res.first_audio_ms = (first - call.t_answer) * 1000

            step = "menu 1"
            if opts.press == "during" and opts.opening_s is not None:
                at = first + max(opts.opening_s - opts.barge_before_s, 0.2)
                await asyncio.sleep(max(at - time.monotonic(), 0))
                with contextlib.suppress(TimeoutError):  # press mid-phrase, not in a pause
                    await call.wait_loud_now(timeout=0.5)
            else:
                end = await call.wait_quiet(opts.quiet_s, since=first, timeout=60)
                res.opening_s = end - first
            t_key = await call.send_dtmf("1", opts.digit_ms)
            kt = call.keys_sent[-1]
            # during a prompt, search from key-up: before it, the prompt itself is playing
            since = t_key if opts.press == "during" else kt.t_first
            res.latency_ms[step] = await _measure(call, opts, t_key, since)
            if opts.press == "during":
                onset = t_key + res.latency_ms[step] / 1000
                last_old = call.last_audio_between(kt.t_first, onset - opts.gap_ms / 1000)
                res.barge_stop_ms = ((last_old + 0.02 - t_key) * 1000) if last_old else 0.0

            step = "account #"
            await call.wait_quiet(opts.quiet_s, since=kt.t_first, timeout=60)
            times = await call.send_digits(opts.account + "#", opts.digit_ms, opts.digit_gap_ms)
            kt = call.keys_sent[-1]
            res.latency_ms[step] = await _measure(call, opts, times[-1], kt.t_first)

            step = "confirm 1"
            await call.wait_quiet(opts.quiet_s, since=kt.t_first, timeout=60)
            t_key = await call.send_dtmf("1", opts.digit_ms)
            kt = call.keys_sent[-1]
            res.latency_ms[step] = await _measure(call, opts, t_key, kt.t_first)
            await asyncio.sleep(opts.linger_s)
            res.ok = True
            res.hangup_by = "local"
    except (TimeoutError, SipError, OSError) as exc:
        res.error = f"{step}: {exc}"
    return res


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


async def run(opts: WalkOptions, calls: int, concurrency: int,
              stagger_s: float = 0.25) -> tuple[list[CallResult], CallResult | None]:
    calib = None
    if opts.press == "during" and opts.opening_s is None:
        calib = await walk_menu(WalkOptions(**{**opts.__dict__, "press": "after"}))
        if calib.opening_s is None:
            return [], calib
        opts.opening_s = calib.opening_s
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> CallResult:
        async with sem:
            await asyncio.sleep(stagger_s * (i % concurrency) if i < concurrency else 0)
            return await walk_menu(opts)

    return list(await asyncio.gather(*(one(i) for i in range(calls)))), calib


def summarize(results: list[CallResult], p95_ms: float) -> tuple[list[dict], bool]:
    rows, ok = [], True
    for step in STEPS:
        vals = [r.latency_ms[step] for r in results if step in r.latency_ms]
        failed = sum(1 for r in results if not r.ok and r.error.startswith(step))
        row = {"step": step, "n": len(vals), "failed": failed}
        if vals:
            row |= {"p50": percentile(vals, 50), "p95": percentile(vals, 95),
                    "max": max(vals), "min": min(vals)}
        row["pass"] = bool(vals) and row["p95"] <= p95_ms and failed == 0
        ok &= row["pass"]
        rows.append(row)
    stops = [r.barge_stop_ms for r in results if r.barge_stop_ms is not None]
    if stops:
        rows.append({"step": "barge-in stop", "n": len(stops), "failed": 0,
                     "p50": percentile(stops, 50), "p95": percentile(stops, 95),
                     "max": max(stops), "min": min(stops), "pass": None})
    ok &= all(r.ok for r in results) and bool(results)
    return rows, ok


def print_table(rows: list[dict], results: list[CallResult], p95_ms: float, file=None) -> None:
    out = file or sys.stdout
    print(f"{'step':<14}{'n':>5}{'fail':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
          f"{'min ms':>9}  target p95<={p95_ms:g} ms", file=out)
    for r in rows:
        nums = "".join(f"{r[k]:>9.1f}" if k in r else f"{'-':>9}"
                       for k in ("p50", "p95", "max", "min"))
        verdict = {True: "ok", False: "MISSED", None: "(info)"}[r["pass"]]
        print(f"{r['step']:<14}{r['n']:>5}{r['failed']:>6}{nums}  {verdict}", file=out)
    setup = [r.setup_ms for r in results if r.setup_ms is not None]
    if setup:
        print(f"call setup INVITE->200: p50 {percentile(setup, 50):.1f} ms, "
              f"max {max(setup):.1f} ms", file=out)
    n_ok = sum(r.ok for r in results)
    print(f"calls: {len(results)} made, {n_ok} completed, {len(results) - n_ok} failed", file=out)
    for r in [r for r in results if not r.ok][:5]:
        print(f"  failed: {r.error}", file=out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, help="sip:95598@127.0.0.1:PORT")
    p.add_argument("--account", required=True, help="10-digit demo account (户号)")
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--press", choices=("after", "during"), default="after",
                   help="press the menu key after the menu prompt or during it (barge-in)")
    p.add_argument("--p95-ms", type=float, default=150.0)
    p.add_argument("--threshold-dbfs", type=float, default=-40.0)
    p.add_argument("--quiet-s", type=float, default=1.5,
                   help="silence that marks the end of a prompt")
    p.add_argument("--gap-ms", type=float, default=60.0)
    p.add_argument("--step-timeout-s", type=float, default=5.0)
    p.add_argument("--local-ip", default="127.0.0.1")
    p.add_argument("--caller", default="bench", help="From user (not a customer's phone)")
    p.add_argument("--codec", choices=("PCMU", "PCMA"), action="append",
                   help="offer only these (repeatable); default PCMU then PCMA")
    p.add_argument("--max-seconds", type=float, default=600.0, help="overall time limit")
    p.add_argument("--json", action="store_true", help="also print the figures as JSON")
    a = p.parse_args(argv)
    if not (len(a.account) == 10 and a.account.isdigit()):
        p.error("--account must be 10 digits")
    if a.calls < 1 or not 1 <= a.concurrency <= 4 * 60:
        p.error("--calls >= 1 and 1 <= --concurrency <= 240")
    opts = WalkOptions(a.target, a.account, a.local_ip, a.caller, a.press, a.quiet_s,
                       a.gap_ms, a.threshold_dbfs, a.step_timeout_s,
                       codecs=tuple(a.codec or ("PCMU", "PCMA")))

    async def bounded():
        return await asyncio.wait_for(run(opts, a.calls, a.concurrency), a.max_seconds)

    try:
        results, calib = asyncio.run(bounded())
    except TimeoutError:
        print(f"time limit of {a.max_seconds:g} s reached", file=sys.stderr)
        return 1
    print(f"ivr_latency: {a.target}, account {a.account}, {a.calls} calls, "
          f"concurrency {a.concurrency}, press {a.press}, threshold {a.threshold_dbfs:g} dBFS")
    if calib is not None:
        if calib.opening_s is None:
            print(f"calibration call failed: {calib.error}")
            return 1
        print(f"calibration call: opening audio {calib.opening_s:.2f} s; menu key pressed "
              f"{opts.barge_before_s:g} s before its end")
    rows, ok = summarize(results, a.p95_ms)
    print_table(rows, results, a.p95_ms)
    if a.json:
        print(json.dumps({"steps": rows, "calls": len(results),
                          "completed": sum(r.ok for r in results)}, ensure_ascii=False))
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
