"""``AsrService``: the ASR service (``python -m asr.server``) as a supervised child process.

* No model configured (``HOTLINE_ASR_MODEL`` unset): nothing is started, one start-up log line
  says the IVR runs keypad-only.
* A model directory that is not a Vosk model: start-up fails with :class:`ModelError`'s message
  (as ``AsrStartError``), before any process is started.
* Otherwise the child runs in its own session (Ctrl-C reaches only the main process), logs to
  ``<data_dir>/logs/asr.log``, and :meth:`AsrService.start` returns once ``GET /health``
  answers. When it dies it is restarted with backoff; nothing else is taken down, and clients
  get ``AsrUnavailable`` meanwhile (the IVR falls back to keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from asr.engine import MODEL_SETTING, ModelError, inspect_model_dir
from hotline.settings import Settings


class AsrStartError(RuntimeError):
    """The ASR service cannot start; the message says why and what to set."""


log = logging.getLogger("hotline.asr.supervisor")

REPO = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0  # loading the model; the Korean model takes a few seconds
RESTART_DELAY = 0.5
MAX_RESTART_DELAY = 10.0
QUICK_EXIT = 10.0  # an exit sooner than this after start counts as a crash loop (backoff grows)
KEYPAD_ONLY = (
    f"语音识别未启用（未设置 {MODEL_SETTING}），IVR 仅支持按键。"
    f" Speech recognition is off ({MODEL_SETTING} is not set): the IVR runs keypad-only. "
    f"To enable it, set {MODEL_SETTING} to an unpacked Vosk model directory, "
    "e.g. vosk-model-small-cn-0.22 from https://alphacephei.com/vosk/models"
)


class AsrService:
    def __init__(
        self,
        settings: Settings,
        ready_timeout: float = READY_TIMEOUT,
        stop_timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self.started_at = 0.0
        self.stopping = False
        self._up = False
        self._monitor: asyncio.Task | None = None

    # ------------------------------------------------------------------ facts

    @property
    def enabled(self) -> bool:
        return self.settings.asr_model is not None

    @property
    def host(self) -> str:
        return "127.0.0.1"  # asr.server's default bind address

    @property
    def port(self) -> int:
        return self.settings.asr_port

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.settings.data_dir / "logs" / "asr.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def state(self) -> str:
        """``off`` (no model configured), ``up`` (health answered) or ``down``."""
        if not self.enabled:
            return "off"
        alive = self.process is not None and self.process.returncode is None
        return "up" if alive and self._up else "down"

    def health(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "pid": self.pid,
            "url": self.url if self.enabled else None,
            "last_exit": self.last_exit,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the service and wait until it answers ``/health``; AsrStartError if it cannot."""
        if not self.enabled:
            log.warning(KEYPAD_ONLY)
            return
        try:
            inspect_model_dir(self.settings.asr_model)
        except ModelError as exc:
            raise AsrStartError(f"语音识别模型无效 / invalid speech model: {exc}") from exc
        self.stopping = False
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        await self._spawn()
        if not await self._wait_health(self.ready_timeout):
            tail = self._log_tail()
            await self.stop()
            raise AsrStartError(
                f"ASR 服务未能启动 (ASR service did not start within "
                f"{self.ready_timeout:.0f} s; see {self.log_path}): {tail}"
            )
        log.info(
            "ASR service up at %s (pid %s, model %s)", self.url, self.pid, self.settings.asr_model
        )
        self._monitor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after ``stop_timeout``)."""
        self.stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), self.stop_timeout)
        except TimeoutError:
            log.warning(
                "ASR service (pid %s) did not stop in %.0f s; killing it",
                proc.pid,
                self.stop_timeout,
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        self._up = False

    # ------------------------------------------------------------------ internals

    async def _spawn(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
        self._up = False
        self.started_at = time.monotonic()
        with open(self.log_path, "ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "asr.server",
                "--model",
                str(self.settings.asr_model),
                "--port",
                str(self.port),
                "--host",
                self.host,
                "--log-level",
                self.settings.log_level,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                env=env,
            )

    async def _wait_health(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        proc = self.process
        while time.monotonic() < deadline:
            if proc is None or proc.returncode is not None:
                return False
            if await asyncio.to_thread(self._health_ok):
                self._up = True
                return True
            await asyncio.sleep(0.1)
        return False

    def _health_ok(self) -> bool:
        try:
            url = f"http://{self.host}:{self.port}/health"
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return response.status == 200 and json.loads(response.read()).get("status") == "ok"
        except (OSError, ValueError):
            return False

    async def _supervise(self) -> None:
        """Restart the child whenever it exits (backoff on a crash loop) until stop()."""
        quick_exits = 0
        while not self.stopping:
            proc = self.process
            assert proc is not None
            code = await proc.wait()
            self._up = False
            self.last_exit = code
            if self.stopping:
                return
            quick = time.monotonic() - self.started_at < QUICK_EXIT
            quick_exits = quick_exits + 1 if quick else 0
            delay = min(MAX_RESTART_DELAY, RESTART_DELAY * 2 ** max(0, quick_exits - 1))
            log.error(
                "ASR service (pid %s) exited with %s; restarting in %.1f s "
                "(speech falls back to keys meanwhile)",
                proc.pid,
                code,
                delay,
            )
            await asyncio.sleep(delay)
            if self.stopping:
                return
            self.restarts += 1
            try:
                await self._spawn()
            except OSError:
                log.exception("cannot start the ASR service")
                continue
            if await self._wait_health(self.ready_timeout):
                log.info(
                    "ASR service back up at %s (pid %s, restart %d)",
                    self.url,
                    self.pid,
                    self.restarts,
                )
            elif self.process is not None and self.process.returncode is None:
                log.error(
                    "ASR service (pid %s) not healthy after %.0f s; killing it",
                    self.pid,
                    self.ready_timeout,
                )
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()

    def _log_tail(self, chars: int = 1500) -> str:
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(max(0, log_file.seek(0, os.SEEK_END) - chars))
                return log_file.read().decode(errors="replace").strip()
        except OSError:
            return ""
