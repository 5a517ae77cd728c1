"""``MediaServer``: the media workers and the SIP front, supervised from the asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hotline.settings import Settings
from ivr.media import protocol as p
from ivr.media.call import MediaCall
from ivr.media.config import WorkerConfig
from ivr.media.front import FrontConfig, KamailioFront

log = logging.getLogger(__name__)

IncomingHandler = Callable[[MediaCall], Awaitable[None]]
READY_TIMEOUT = 30.0
RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 10.0
RECYCLE_EXIT_TIMEOUT = 10.0
PORT_FREE_TIMEOUT = 5.0


class MediaServerError(RuntimeError):
    pass


@dataclass(slots=True)
class WorkerStats:
    worker_id: int
    pid: int | None
    alive: bool
    ready: bool
    sip_port: int
    legs_in_use: int
    max_legs: int
    restarts: int  # after a crash
    rejected: int
    recycles: int = 0  # planned: replaced after worker_max_calls answered calls
    answered: int = 0  # calls answered by the current process
    recycling: bool = False
    last_restart_reason: str = ""


@dataclass(slots=True)
class MediaStats:
    workers: list[WorkerStats]
    max_legs: int
    legs_in_use: int
    front_alive: bool
    draining: bool

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(slots=True)
class WorkerHandle:
    config: WorkerConfig
    process: asyncio.subprocess.Process | None = None
    writer: asyncio.StreamWriter | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    calls: dict[str, MediaCall] = field(default_factory=dict)
    restarts: int = 0
    rejected: int = 0
    recycles: int = 0
    answered: int = 0  # by the current process
    recycling: bool = False  # draining for a planned replacement
    drain_acked: asyncio.Event = field(default_factory=asyncio.Event)
    last_restart_reason: str = ""
    started_at: float = 0.0
    supervisor: asyncio.Task | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None


class MediaServer:
    def __init__(self, settings: Settings, on_incoming: IncomingHandler) -> None:
        self.settings = settings
        self.on_incoming = on_incoming
        self.log_dir = Path(settings.data_dir) / "logs"
        self.run_dir = Path(settings.data_dir) / "run"
        self.workers: list[WorkerHandle] = []
        self.calls: dict[str, MediaCall] = {}
        self.front: KamailioFront | None = None
        self.draining = False
        self.stopping = False
        self._listener: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._recycler: asyncio.Task | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Return when every worker has said ``WorkerReady`` and the front answers OPTIONS."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._listener = await asyncio.start_server(self._on_connection, "127.0.0.1", 0)
        control_port = self._listener.sockets[0].getsockname()[1]
        self.workers = [WorkerHandle(self._worker_config(i, control_port))
                        for i in range(self.settings.media_workers)]
        try:
            for handle in self.workers:
                await self._spawn(handle)
            await self._wait_ready(READY_TIMEOUT)
            self.front = KamailioFront(self._front_config(), self.log_dir / "kamailio.log")
            await self.front.start()
        except BaseException:
            await self.stop(timeout=2.0)
            raise

    async def drain(self) -> None:
        """New INVITEs get 503; calls in progress go on."""
        self.draining = True
        for handle in self.workers:
            self.send_command(handle.config.worker_id, p.Drain())

    async def stop(self, timeout: float = 5.0) -> None:
        self.stopping = True
        if self._recycler is not None:
            self._recycler.cancel()
        for handle in self.workers:
            self.send_command(handle.config.worker_id, p.Shutdown())
        await self._wait_exits(timeout)
        if self.front is not None:
            await self.front.stop()
        for handle in self.workers:
            self._fail_calls(handle, "system", "media server stopped")
            if handle.supervisor is not None:
                handle.supervisor.cancel()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for task in list(self._tasks):
            task.cancel()

    def stats(self) -> MediaStats:
        workers = [self._worker_stats(h) for h in self.workers]
        return MediaStats(
            workers=workers,
            max_legs=sum(w.max_legs for w in workers),
            legs_in_use=sum(w.legs_in_use for w in workers),
            front_alive=bool(self.front and self.front.alive),
            draining=self.draining,
        )

    @property
    def max_legs(self) -> int:
        return self.settings.media_workers * self.settings.legs_per_worker

    # ------------------------------------------------------------------ commands

    def send_command(self, worker_id: int, command: p.Command) -> bool:
        handle = self.workers[worker_id] if 0 <= worker_id < len(self.workers) else None
        if handle is None or handle.writer is None or handle.writer.is_closing():
            return False
        handle.writer.write(p.encode(command))
        return True

    # ------------------------------------------------------------------ configuration

    def _worker_config(self, index: int, control_port: int) -> WorkerConfig:
        s = self.settings
        return WorkerConfig(
            worker_id=index,
            bind_address=s.address,
            sip_port=s.worker_ports[index],
            rtp_port=s.rtp_base_port + index * s.rtp_ports_per_worker,
            rtp_port_range=s.rtp_ports_per_worker,
            max_legs=s.legs_per_worker,
            reserved_legs=s.reserved_legs_per_worker,
            trusted_sources=list(s.trusted_sources),
            control_port=control_port,
            rtp_timeout=s.rtp_timeout_seconds,
            session_timer=s.session_timer_seconds,
            max_call_seconds=s.max_call_seconds,
            log_level=s.log_level,
        )

    def _front_config(self) -> FrontConfig:
        s = self.settings
        return FrontConfig(
            address=s.address,
            port=s.sip_port,
            workers=tuple((s.address, port) for port in s.worker_ports),
            run_dir=self.run_dir / "kamailio",
            invite_rate_limit=s.invite_rate_limit,
        )

    # ------------------------------------------------------------------ processes

    async def _spawn(self, handle: WorkerHandle) -> None:
        cfg = handle.config
        cfg_path = self.run_dir / f"worker-{cfg.worker_id}.json"
        cfg_path.write_text(cfg.to_json())
        handle.ready.clear()
        handle.drain_acked.clear()
        handle.answered = 0
        handle.started_at = time.monotonic()
        with open(self.log_dir / f"worker-{cfg.worker_id}.log", "ab") as out:
            handle.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "ivr.media.worker", "--config", str(cfg_path),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True,
            )
        handle.supervisor = self._spawn_task(self._supervise(handle, handle.process))

    async def _supervise(self, handle: WorkerHandle, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        handle.ready.clear()
        self._fail_calls(handle, "worker", f"media worker exited ({code})")
        if self.stopping or handle.recycling:
            return  # the recycler starts the next process
        log.error("media worker %s (pid %s) exited with %s; restarting",
                  handle.config.worker_id, process.pid, code)
        quick = time.monotonic() - handle.started_at < 5.0
        delay = min(MAX_RESTART_DELAY, RESTART_DELAY * (2 ** handle.restarts if quick else 1))
        await asyncio.sleep(delay)
        if self.stopping:
            return
        handle.restarts += 1
        handle.last_restart_reason = f"crash (exit {code})"
        handle.config.generation += 1
        await self._spawn(handle)

    async def _wait_ready(self, timeout: float) -> None:
        waits = [asyncio.create_task(h.ready.wait()) for h in self.workers]
        done, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            missing = [h.config.worker_id for h in self.workers if not h.ready.is_set()]
            raise MediaServerError(f"media workers {missing} not ready; see {self.log_dir}")

    async def _wait_exits(self, timeout: float) -> None:
        procs = [h.process for h in self.workers if h.alive]
        if not procs:
            return
        _, pending = await asyncio.wait(
            [asyncio.create_task(proc.wait()) for proc in procs], timeout=timeout
        )
        for proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        for task in pending:
            await task

    # ------------------------------------------------------------------ control connections

    async def _on_connection(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        handle = await self._greet(reader)
        if handle is None:
            writer.close()
            return
        handle.writer = writer
        if self.draining:
            self.send_command(handle.config.worker_id, p.Drain())
        handle.ready.set()
        try:
            while line := await reader.readline():
                self._dispatch(handle, line)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            if handle.writer is writer:  # not an old process's connection closing late
                handle.writer = None
                self._fail_calls(handle, "worker", "control connection lost")

    async def _greet(self, reader: asyncio.StreamReader) -> WorkerHandle | None:
        try:
            ready = p.decode_event(await asyncio.wait_for(reader.readline(), READY_TIMEOUT))
        except (ValueError, TimeoutError, ConnectionError):
            return None
        if not isinstance(ready, p.WorkerReady) or not 0 <= ready.worker_id < len(self.workers):
            return None
        handle = self.workers[ready.worker_id]
        if handle.process is None or handle.process.pid != ready.pid:
            return None
        return handle

    def _dispatch(self, handle: WorkerHandle, line: bytes) -> None:
        try:
            event = p.decode_event(line)
        except ValueError as exc:
            log.warning("worker %s: %s", handle.config.worker_id, exc)
            return
        if isinstance(event, p.CallIncoming):
            self._incoming(handle, event)
        elif isinstance(event, p.CallRejected):
            handle.rejected += 1
            log.info("worker %s refused %s from %s: %s %s", handle.config.worker_id,
                     event.sip_call_id, event.remote_address, event.code, event.reason)
        elif isinstance(event, p.WorkerDraining):
            handle.drain_acked.set()
        elif isinstance(event, p.WorkerError):
            log.warning("worker %s error (%s): %s", handle.config.worker_id,
                        event.call_id, event.message)
        else:
            self._to_call(handle, event)

    def _incoming(self, handle: WorkerHandle, event: p.CallIncoming) -> None:
        call = MediaCall(self, handle.config.worker_id, event)
        handle.calls[call.call_id] = call
        self.calls[call.call_id] = call
        self._spawn_task(self._offer(call))

    async def _offer(self, call: MediaCall) -> None:
        try:
            await self.on_incoming(call)
        except Exception:
            log.exception("on_incoming failed for %s", call.call_id)
            await call.reject(500, "Server Internal Error")

    def _to_call(self, handle: WorkerHandle, event: p.Event) -> None:
        call_id = getattr(event, "call_id", "")
        call = handle.calls.get(call_id)
        if call is None:
            return
        call.deliver(event)
        if isinstance(event, p.CallHangup):
            handle.calls.pop(call_id, None)
            self.calls.pop(call_id, None)
        elif isinstance(event, p.CallAnswered):
            handle.answered += 1
            self._maybe_recycle()

    def _fail_calls(self, handle: WorkerHandle, by: str, reason: str) -> None:
        for call_id, call in list(handle.calls.items()):
            call.deliver(p.CallHangup(call_id, by, 0, reason))
            self.calls.pop(call_id, None)
        handle.calls.clear()

    def _worker_stats(self, handle: WorkerHandle) -> WorkerStats:
        return WorkerStats(
            worker_id=handle.config.worker_id,
            pid=handle.process.pid if handle.process else None,
            alive=handle.alive,
            ready=handle.ready.is_set(),
            sip_port=handle.config.sip_port,
            legs_in_use=len(handle.calls),
            max_legs=handle.config.max_legs,
            restarts=handle.restarts,
            rejected=handle.rejected,
            recycles=handle.recycles,
            answered=handle.answered,
            recycling=handle.recycling,
            last_restart_reason=handle.last_restart_reason,
        )

    # ------------------------------------------------------------------ recycling

    def _accepting(self, handle: WorkerHandle) -> bool:
        return handle.alive and handle.ready.is_set() and not handle.recycling

    def _maybe_recycle(self) -> None:
        """Start recycling the most used worker past ``worker_max_calls``, if it is safe now.

        One worker at a time, and only while another worker keeps accepting calls (a single
        worker is never recycled: its callers would get 503s or timeouts meanwhile).
        """
        limit = self.settings.worker_max_calls
        if limit <= 0 or self.stopping or self.draining or self._recycler is not None:
            return
        due = [h for h in self.workers if h.answered >= limit and self._accepting(h)]
        if not due:
            return
        handle = max(due, key=lambda h: h.answered)
        if not any(self._accepting(h) for h in self.workers if h is not handle):
            return  # retried on the next answered call or when a worker is ready again
        self._recycler = self._spawn_task(self._recycle(handle))

    async def _recycle(self, handle: WorkerHandle) -> None:
        """Drain the worker, wait for its calls to end, stop it and start a fresh process."""
        wid, old = handle.config.worker_id, handle.process
        host, port = handle.config.bind_address, handle.config.sip_port
        handle.recycling = True
        reason = f"recycle after {handle.answered} answered calls"
        log.info("media worker %s (pid %s): %s; draining %d call(s)", wid,
                 old.pid if old else None, reason, len(handle.calls))
        out_of_front = False
        try:
            handle.drain_acked.clear()
            if not self.send_command(wid, p.Drain()):
                return
            await asyncio.wait_for(handle.drain_acked.wait(), READY_TIMEOUT)
            # After the ack no new leg can appear: wait for the ones in progress to end.
            while handle.calls and handle.alive:
                await asyncio.sleep(0.1)
            out_of_front = self.front is not None and await self.front.set_worker_active(
                host, port, False)
            if handle.alive:
                self.send_command(wid, p.Shutdown())
                try:
                    await asyncio.wait_for(asyncio.shield(old.wait()), RECYCLE_EXIT_TIMEOUT)
                except TimeoutError:
                    log.warning("media worker %s did not exit; killing it", wid)
                    with contextlib.suppress(ProcessLookupError):
                        old.kill()
                    await old.wait()
            if self.stopping:
                return
            await _wait_port_free(host, port, PORT_FREE_TIMEOUT)
            handle.recycles += 1
            handle.last_restart_reason = reason
            handle.config.generation += 1
            await self._spawn(handle)
            await asyncio.wait_for(handle.ready.wait(), READY_TIMEOUT)
            log.info("media worker %s recycled: pid %s -> %s (recycle #%d)", wid,
                     old.pid if old else None, handle.process.pid, handle.recycles)
        except TimeoutError:
            log.error("media worker %s: recycling timed out; see %s", wid, self.log_dir)
        finally:
            handle.recycling = False
            self._recycler = None
            if out_of_front and not self.stopping:
                await self.front.set_worker_active(host, port, True)
            supervised = handle.supervisor is not None and not handle.supervisor.done()
            if not self.stopping and handle.process is not None and not handle.alive \
                    and not supervised:
                # exited while recycling, with no successor: back to crash supervision
                handle.supervisor = self._spawn_task(self._supervise(handle, handle.process))
            self._maybe_recycle()

    def _spawn_task(self, coro: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


async def _wait_port_free(host: str, port: int, timeout: float) -> None:
    """The old worker has exited; make sure the kernel released its SIP port."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _port_free(host, port) and loop.time() < deadline:
        await asyncio.sleep(0.05)
