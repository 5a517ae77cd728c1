"""Load driver for the 95598 IVR: N concurrent calls, then K calls in a row.

Calls walk the menu (1, the account and #, 1 to confirm, BYE) with sipp and SIPp's own
RFC 4733 pcaps (scenario built by benchmarks.sipp, a copy in benchmarks/scenarios/), or with
the plain-socket SipCaller (``--driver sipcaller``; it also sends 20 ms silence frames all
call long, which sipp does not). Meanwhile the product's processes are sampled: found from
the PID of ``hotline run`` (``--pid``) or from the process listening on the SIP port
(``--port``), always with all their children (media workers, kamailio, TTS), plus
``--extra-pid``. Reports calls completed, failures, peak concurrency, CPU % (100 % = one
core) and RSS, and for the run in a row the RSS every ``--sample-every`` calls with the
least-squares growth per call (the first sample is warm-up and is left out of the fit).

    python -m benchmarks.ivr_load --target 127.0.0.1:5070 --pid $(pgrep -f 'hotline run') \\
        --account 1500000001 --concurrent 60 --calls 1000 --row-concurrency 20

Targets (exit status 1 when missed): the concurrent phase completes all N calls with no
failure and N calls up at once; the run in a row has no failure and grows by at most
``--max-growth-kib`` KiB of RSS per call.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks import sipp
from benchmarks.ivr_latency import WalkOptions, walk_menu
from benchmarks.sipcaller import parse_target

MIB = 1024 * 1024


# --------------------------------------------------------------------------- processes


def find_root_by_port(port: int, host: str = "127.0.0.1") -> int:
    """PID of the process tree's root that owns the UDP SIP port."""
    for conn in psutil.net_connections(kind="udp"):
        if conn.laddr and conn.laddr.port == port and conn.pid and conn.laddr.ip in (
                host, "0.0.0.0", "::"):
            proc = psutil.Process(conn.pid)
            root = proc
            for parent in proc.parents():  # climb while it is still the product
                cmd = " ".join(parent.cmdline()).lower()
                if "hotline" in cmd or "kamailio" in cmd:
                    root = parent
            return root.pid
    raise LookupError(f"no process listens on UDP {host}:{port}")


class ProcessSet:
    """The product's processes: roots and all their descendants, re-read at every sample."""

    def __init__(self, root_pids: list[int]):
        self.roots = [psutil.Process(p) for p in root_pids]
        self._cpu_seen: dict[tuple[int, float], float] = {}
        self.t_start = time.time()

    def processes(self) -> list[psutil.Process]:
        seen, out = set(), []
        for root in self.roots:
            with contextlib.suppress(psutil.Error):
                for p in [root, *root.children(recursive=True)]:
                    if p.pid not in seen:
                        seen.add(p.pid)
                        out.append(p)
        return out

    def sample(self) -> tuple[int, float, dict[str, int]]:
        """-> (total RSS bytes, CPU seconds since the last sample, RSS by process name)."""
        rss, cpu, by_name = 0, 0.0, {}
        for p in self.processes():
            try:
                with p.oneshot():
                    r = p.memory_info().rss
                    t = p.cpu_times()
                    key = (p.pid, p.create_time())
                    name = p.name()
            except psutil.Error:
                continue
            total = t.user + t.system + t.children_user + t.children_system
            prev = self._cpu_seen.get(key)
            if prev is None:  # first seen: count only what it used since we started
                prev = total if key[1] < self.t_start else 0.0
            cpu += max(total - prev, 0.0)
            self._cpu_seen[key] = total
            rss += r
            by_name[name] = by_name.get(name, 0) + r
        return rss, cpu, by_name


@dataclass
class PhaseStats:
    name: str
    planned: int
    completed: int = 0
    failed: int = 0
    peak_concurrent: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    rss_start: int = 0
    rss_peak: int = 0
    rss_end: int = 0
    rss_by_name: dict[str, int] = field(default_factory=dict)
    mem_samples: list[tuple[int, int]] = field(default_factory=list)  # (calls done, RSS)
    errors: list[str] = field(default_factory=list)

    @property
    def cpu_pct(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s else 0.0


class Monitor(threading.Thread):
    """Samples the process set every ``interval`` s and at every ``sample_every`` calls."""

    def __init__(self, procs: ProcessSet | None, stats: PhaseStats, progress,
                 interval: float = 1.0, sample_every: int = 100):
        super().__init__(daemon=True)
        self.procs, self.stats, self.progress = procs, stats, progress
        self.interval, self.sample_every = interval, sample_every
        self._stop_evt = threading.Event()
        self._next_mark = sample_every

    def _sample(self) -> int:
        if self.procs is None:
            return 0
        rss, cpu, by_name = self.procs.sample()
        self.stats.cpu_s += cpu
        self.stats.rss_peak = max(self.stats.rss_peak, rss)
        self.stats.rss_end, self.stats.rss_by_name = rss, by_name
        return rss

    def run(self) -> None:
        self.stats.rss_start = self._sample()
        self.stats.mem_samples.append((0, self.stats.rss_start))
        while not self._stop_evt.wait(self.interval):
            self.tick()

    def tick(self) -> None:
        done, current = self.progress()
        self.stats.peak_concurrent = max(self.stats.peak_concurrent, current)
        rss = self._sample()
        while done >= self._next_mark and self.procs is not None:
            self.stats.mem_samples.append((self._next_mark, rss))
            self._next_mark += self.sample_every

    def stop(self) -> None:
        self._stop_evt.set()
        self.join(5)
        self.tick()


def growth_per_call(samples: list[tuple[int, int]]) -> float | None:
    """Least-squares slope of RSS over calls (bytes per call), warm-up sample left out."""
    pts = [s for s in samples if s[0] > 0]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    den = sum((x - mx) ** 2 for x, _ in pts)
    return sum((x - mx) * (y - my) for x, y in pts) / den if den else None


# --------------------------------------------------------------------------- drivers


@dataclass
class LoadOptions:
    target: str
    account: str
    local_ip: str = "127.0.0.1"
    driver: str = "sipp"
    rate: float = 10.0  # new calls per second
    menu_wait_ms: int = 10000
    account_wait_ms: int = 5000
    digit_gap_ms: int = 250
    readback_wait_ms: int = 6000
    balance_wait_ms: int = 6000
    call_timeout_s: float = 120.0
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hotline-load-")))

    @property
    def call_s(self) -> float:
        return (self.menu_wait_ms + self.account_wait_ms + 10 * self.digit_gap_ms
                + self.readback_wait_ms + self.balance_wait_ms) / 1000 + 1


def run_sipp_phase(opts: LoadOptions, calls: int, concurrency: int, stats: PhaseStats,
                   procs: ProcessSet | None, sample_every: int) -> None:
    _user, host, port = parse_target(opts.target)
    scenario = sipp.write_uac_menu(
        opts.workdir, opts.account, menu_wait_ms=opts.menu_wait_ms,
        account_wait_ms=opts.account_wait_ms, digit_gap_ms=opts.digit_gap_ms,
        readback_wait_ms=opts.readback_wait_ms, balance_wait_ms=opts.balance_wait_ms)
    waves = max(1, calls // max(concurrency, 1))
    budget = (waves + 1) * (opts.call_s + 10) + calls / opts.rate + 60
    args = [f"{host}:{port}", "-s", _user or "95598", "-i", opts.local_ip,
            "-p", str(sipp.free_udp_port()), "-mi", opts.local_ip,
            "-mp", str(sipp.free_udp_port(pair=True)), "-m", str(calls),
            "-l", str(concurrency), "-r", f"{opts.rate:g}", "-rp", "1000",
            "-recv_timeout", f"{int(opts.call_timeout_s * 1000)}",
            "-max_recv_loops", "10000"]
    run = sipp.Sipp(scenario, opts.workdir, args, budget)
    last = sipp.SippStats()

    def progress():
        nonlocal last
        last = run.stats(last)
        return last.successful + last.failed, last.current

    mon = Monitor(procs, stats, progress, sample_every=sample_every)
    t0 = time.monotonic()
    run.start()
    mon.start()
    try:
        rc = run.wait()
    finally:
        run.stop()
        stats.wall_s = time.monotonic() - t0
        mon.stop()
    last = run.stats(last)
    stats.completed, stats.failed = last.successful, last.failed
    stats.peak_concurrent = max(stats.peak_concurrent, last.peak_current)
    if rc not in (0, 1):
        stats.errors.append(f"sipp exit status {rc} (see {opts.workdir})")
    stats.errors += run.errors_tail()


def run_sipcaller_phase(opts: LoadOptions, calls: int, concurrency: int, stats: PhaseStats,
                        procs: ProcessSet | None, sample_every: int) -> None:
    walk = WalkOptions(opts.target, opts.account, opts.local_ip, quiet_s=1.2,
                       step_timeout_s=8.0, linger_s=0.5)
    counters = {"done": 0, "current": 0}

    async def one(i: int, sem: asyncio.Semaphore) -> None:
        async with sem:
            await asyncio.sleep(i / opts.rate if i < concurrency else 0)
            counters["current"] += 1
            try:
                res = await asyncio.wait_for(walk_menu(walk), opts.call_timeout_s)
            except TimeoutError:
                res = None
            counters["current"] -= 1
            counters["done"] += 1
            if res is None or not res.ok:
                stats.failed += 1
                if len(stats.errors) < 5:
                    stats.errors.append(res.error if res else "call timed out")
            else:
                stats.completed += 1

    async def all_calls():
        sem = asyncio.Semaphore(concurrency)
        await asyncio.gather(*(one(i, sem) for i in range(calls)))

    mon = Monitor(procs, stats, lambda: (counters["done"], counters["current"]),
                  sample_every=sample_every)
    t0 = time.monotonic()
    mon.start()
    try:
        budget = (calls / concurrency + 1) * opts.call_timeout_s + 60
        asyncio.run(asyncio.wait_for(all_calls(), budget))
    except TimeoutError:
        stats.errors.append("phase time limit reached")
    finally:
        stats.wall_s = time.monotonic() - t0
        mon.stop()


# --------------------------------------------------------------------------- report


def print_phase(st: PhaseStats, file=None) -> None:
    out = file or sys.stdout
    mib = (lambda b: f"{b / MIB:.1f}") if st.rss_start or st.rss_end else (lambda b: "-")
    print(f"\n== {st.name}", file=out)
    print(f"{'calls planned':<24}{st.planned:>10}", file=out)
    print(f"{'calls completed':<24}{st.completed:>10}", file=out)
    print(f"{'failures':<24}{st.failed:>10}", file=out)
    print(f"{'peak concurrent calls':<24}{st.peak_concurrent:>10}", file=out)
    print(f"{'wall time s':<24}{st.wall_s:>10.1f}", file=out)
    print(f"{'product CPU % (1 core)':<24}{st.cpu_pct:>10.1f}", file=out)
    print(f"{'product RSS start MiB':<24}{mib(st.rss_start):>10}", file=out)
    print(f"{'product RSS peak MiB':<24}{mib(st.rss_peak):>10}", file=out)
    print(f"{'product RSS end MiB':<24}{mib(st.rss_end):>10}", file=out)
    for name, rss in sorted(st.rss_by_name.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<20}{rss / MIB:>10.1f}", file=out)
    for err in st.errors[:5]:
        print(f"  error: {err}", file=out)


def print_memory_trend(st: PhaseStats, file=None) -> float | None:
    out = file or sys.stdout
    print(f"\n{'calls done':>10}{'RSS MiB':>10}{'KiB/call since prev':>22}", file=out)
    prev = None
    for calls, rss in st.mem_samples:
        per = "" if prev is None or calls == prev[0] else \
            f"{(rss - prev[1]) / 1024 / (calls - prev[0]):>22.1f}"
        print(f"{calls:>10}{rss / MIB:>10.1f}{per}", file=out)
        prev = (calls, rss)
    slope = growth_per_call(st.mem_samples)
    print("growth per call (least squares, after warm-up): "
          + (f"{slope / 1024:.2f} KiB/call" if slope is not None else "n/a (too few samples)"),
          file=out)
    return slope


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", required=True, help="sip:95598@127.0.0.1:PORT or HOST:PORT")
    p.add_argument("--account", default=sipp.DEFAULT_ACCOUNT, help="10-digit demo account")
    who = p.add_argument_group("product processes (one of --pid / --port; or --no-monitor)")
    who.add_argument("--pid", type=int, help="PID of `hotline run` (children included)")
    who.add_argument("--port", type=int, help="find the product by its UDP SIP port")
    who.add_argument("--extra-pid", type=int, action="append", default=[],
                     help="another process tree to count (e.g. a separate kamailio)")
    who.add_argument("--no-monitor", action="store_true", help="no CPU/RSS figures")
    p.add_argument("--driver", choices=("sipp", "sipcaller"), default="sipp")
    p.add_argument("--concurrent", type=int, default=60, help="phase 1 calls (0: skip)")
    p.add_argument("--calls", type=int, default=1000, help="phase 2 calls in a row (0: skip)")
    p.add_argument("--row-concurrency", type=int, default=10)
    p.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    p.add_argument("--sample-every", type=int, default=100, help="RSS sample every N calls")
    p.add_argument("--max-growth-kib", type=float, default=8.0,
                   help="allowed RSS growth per call in phase 2")
    p.add_argument("--menu-wait-ms", type=int, default=10000,
                   help="after the answer, before key 1 (greeting + menu)")
    p.add_argument("--account-wait-ms", type=int, default=5000)
    p.add_argument("--digit-gap-ms", type=int, default=250)
    p.add_argument("--readback-wait-ms", type=int, default=6000)
    p.add_argument("--balance-wait-ms", type=int, default=6000)
    p.add_argument("--local-ip", default="127.0.0.1")
    p.add_argument("--workdir", help="sipp files and logs (default: a new temp dir)")
    a = p.parse_args(argv)
    if a.pid is None and a.port is None and not a.extra_pid and not a.no_monitor:
        p.error("give --pid or --port (or --no-monitor)")
    if not 0 <= a.concurrent <= 500 or not 0 <= a.calls <= 100000 or a.row_concurrency < 1:
        p.error("0 <= --concurrent <= 500, 0 <= --calls <= 100000, --row-concurrency >= 1")
    if a.digit_gap_ms < 200:
        p.error("--digit-gap-ms must be >= 200 (each key's packets last 140 ms)")

    procs = None
    if not a.no_monitor:
        roots = list(a.extra_pid)
        if a.pid is not None:
            roots.append(a.pid)
        elif a.port is not None:
            roots.append(find_root_by_port(a.port))
        procs = ProcessSet(roots)
        names = sorted({pr.name() for pr in procs.processes()})
        print(f"product processes: roots {roots}, {len(procs.processes())} processes "
              f"({', '.join(names)})")
    opts = LoadOptions(a.target, a.account, a.local_ip, a.driver, a.rate, a.menu_wait_ms,
                       a.account_wait_ms, a.digit_gap_ms, a.readback_wait_ms,
                       a.balance_wait_ms)
    if a.workdir:
        opts.workdir = Path(a.workdir)
        opts.workdir.mkdir(parents=True, exist_ok=True)
    phase = run_sipp_phase if a.driver == "sipp" else run_sipcaller_phase
    print(f"ivr_load: {a.target}, driver {a.driver}, account {a.account}, "
          f"~{opts.call_s:.0f} s per call, logs in {opts.workdir}")
    ok = True
    if a.concurrent:
        st = PhaseStats(f"{a.concurrent} concurrent calls", a.concurrent)
        phase(opts, a.concurrent, a.concurrent, st, procs, a.sample_every)
        print_phase(st)
        passed = (st.failed == 0 and st.completed == a.concurrent
                  and st.peak_concurrent >= a.concurrent)
        print(f"target: {a.concurrent} concurrent, 0 failures -> "
              f"{'ok' if passed else 'MISSED'}")
        ok &= passed
    if a.calls:
        st = PhaseStats(f"{a.calls} calls in a row (concurrency {a.row_concurrency})", a.calls)
        phase(opts, a.calls, a.row_concurrency, st, procs, a.sample_every)
        print_phase(st)
        slope = print_memory_trend(st) if procs else None
        passed = st.failed == 0 and st.completed == a.calls
        mem_ok = slope is None or slope / 1024 <= a.max_growth_kib
        print(f"target: {a.calls} calls, 0 failures -> {'ok' if passed else 'MISSED'}; "
              f"growth <= {a.max_growth_kib:g} KiB/call -> "
              + ("n/a" if slope is None else ("ok" if mem_ok else "MISSED")))
        ok &= passed and mem_ok
    print("RESULT:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
