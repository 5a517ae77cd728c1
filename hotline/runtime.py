"""Start and stop the whole product in one process tree (the embedded default).

Main process: asyncio loop with the IVR controller, the journal writer and the HTTP API.
Child processes: the Kamailio SIP front, the pjsua2 media workers, the TTS engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from asr.supervisor import AsrService, AsrStartError
from business.db import create_schema, make_engine, make_session_factory
from business.demo import load_demo_data, refresh_demo_outages
from business.journal import Journal, JournalBusy
from hotline.app import create_app
from hotline.metrics import Metrics
from hotline.settings import Settings
from ivr.actions import ACTION_NAMES, ActionContext
from ivr.controller import IvrController
from ivr.flow import ConfigError, FlowRepository, PromptBook
from ivr.media.front import FrontError
from ivr.media.server import MediaServer, MediaServerError
from ivr.tts import EspeakSynthesizer, TtsUnavailable

log = logging.getLogger("hotline")


class StartupError(RuntimeError):
    """The product cannot start; the message says why and what to do."""


@dataclass
class Product:
    """Everything one running product holds; the HTTP API reads from it."""

    settings: Settings
    metrics: Metrics
    session_factory: sessionmaker[Session]
    journal: Journal
    controller: IvrController
    media: MediaServer
    asr: AsrService


def _prepare_dirs(settings: Settings) -> None:
    for folder in (settings.data_dir, settings.recordings_dir, settings.prompt_cache_dir,
                   settings.journal_dir, settings.data_dir / "logs"):
        folder.mkdir(parents=True, exist_ok=True)


def _check_binaries() -> None:
    for binary, package in (("espeak-ng", "espeak-ng"), ("kamailio", "kamailio")):
        if shutil.which(binary) is None and not shutil.which(binary, path="/usr/sbin"):
            raise StartupError(f"找不到 {binary}。请安装 Debian 软件包：apt-get install {package}")


def _open_database(settings: Settings):
    engine = make_engine(settings.resolved_database_url)
    try:
        create_schema(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error means the same to the operator
        raise StartupError(f"无法连接数据库 {engine.url!r}: {exc}") from exc
    session_factory = make_session_factory(engine)
    if settings.demo_data:
        load_demo_data(session_factory)
        refresh_demo_outages(session_factory, now=datetime.now(UTC))
    return engine, session_factory


def _port_free(address: str, port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:  # a listener's TIME_WAIT leftovers are no conflict
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def _check_ports(settings: Settings) -> None:
    """Fail at once, naming the port and the setting, when another program holds a port."""
    wanted = [(settings.http_port, socket.SOCK_STREAM, "HOTLINE_HTTP_PORT"),
              (settings.sip_port, socket.SOCK_DGRAM, "HOTLINE_SIP_PORT")]
    wanted += [(port, socket.SOCK_DGRAM, "HOTLINE_WORKER_BASE_PORT")
               for port in settings.worker_ports]
    if settings.asr_model is not None:
        wanted.append((settings.asr_port, socket.SOCK_STREAM, "HOTLINE_ASR_PORT"))
    for port, kind, setting in wanted:
        if not _port_free(settings.address, port, kind):
            raise StartupError(f"端口 {settings.address}:{port} 已被占用（是否已有实例在运行？），"
                               f"请停止占用者或设置 {setting}")


@contextlib.contextmanager
def _fails_startup(prefix: str, *errors: type[Exception]) -> Iterator[None]:
    """A part's start-up error becomes a StartupError with a message for the operator."""
    try:
        yield
    except errors as exc:
        raise StartupError(f"{prefix}{exc}") from exc


async def _stop_journal(stop: asyncio.Event, task: asyncio.Task) -> None:
    stop.set()
    await task


@contextlib.asynccontextmanager
async def running_product(settings: Settings) -> AsyncIterator[Product]:
    """Start every part; on exit (or a failed start) stop, in reverse, what was started."""
    _check_ports(settings)
    _prepare_dirs(settings)
    _check_binaries()
    async with contextlib.AsyncExitStack() as started:
        started.callback(log.info, "热线已停止")
        engine, session_factory = await asyncio.to_thread(_open_database, settings)
        started.callback(engine.dispose)
        with _fails_startup(f"数据目录 {settings.data_dir} 已被另一个正在运行的实例使用: ",
                            JournalBusy):
            journal = Journal(settings.journal_dir, session_factory)
        asr = AsrService(settings)
        with _fails_startup("", AsrStartError):
            await asr.start()  # keypad-only (logged) without a model
        started.push_async_callback(asr.stop)
        synth = EspeakSynthesizer(settings.prompt_cache_dir, voice=settings.tts_voice)
        with _fails_startup("", TtsUnavailable):
            await synth.start()
        started.push_async_callback(synth.close)
        stop_journal = asyncio.Event()
        journal_task = asyncio.create_task(journal.run(stop_journal))
        started.push_async_callback(_stop_journal, stop_journal, journal_task)
        metrics = Metrics()
        prompts = PromptBook(settings.prompts_file)
        flows = FlowRepository(settings.flows_dir, prompts, ACTION_NAMES)
        controller = IvrController(settings=settings, flows=flows, prompts=prompts,
                                   synth=synth, actions=ActionContext(session_factory, journal),
                                   journal=journal, metrics=metrics)
        with _fails_startup("IVR 流程或提示音配置有误: ", ConfigError):
            await controller.prepare()
        media = MediaServer(settings, controller.on_incoming)
        started.push_async_callback(media.stop)
        started.push_async_callback(controller.hangup_all)  # runs first: records still written
        with _fails_startup(f"媒体服务无法启动（SIP 端口 {settings.sip_port} 或媒体进程端口"
                            "可能已被占用）: ", MediaServerError, FrontError):
            await media.start()
        log.info("热线已启动: sip:95598@%s:%d, http://%s:%d/docs", settings.address,
                 settings.sip_port, settings.address, settings.http_port)
        yield Product(settings, metrics, session_factory, journal, controller, media, asr)


async def drain_calls(settings: Settings, controller: IvrController, media: MediaServer) -> None:
    """Accept no new calls; let calls in progress finish, up to the drain timeout."""
    log.info("停止中: 不再接受新呼叫，等待进行中的通话（最长 %.0f 秒）",
             settings.drain_timeout_seconds)
    controller.drain()
    await media.drain()
    if not await controller.wait_idle(settings.drain_timeout_seconds):
        log.warning("排空超时，挂断剩余通话")


def product_health(product: Product) -> dict[str, Any]:
    """Health of the parts, also refreshing the gauges that /metrics shows."""
    stats = product.media.stats()
    for worker in stats.workers:
        label = str(worker.worker_id)
        product.metrics.worker_up.labels(worker=label).set(1 if worker.ready else 0)
        product.metrics.worker_legs.labels(worker=label).set(worker.legs_in_use)
        product.metrics.worker_restarts.labels(worker=label).set(worker.restarts)
        product.metrics.worker_recycles.labels(worker=label).set(worker.recycles)
    pending = product.journal.pending_count()
    product.metrics.journal_pending.set(pending)
    workers_ready = sum(1 for worker in stats.workers if worker.ready)
    return {"status": "draining" if product.controller.draining else "ok",
            "media": stats.as_dict(), "workers_ready": workers_ready,
            "calls_in_progress": len(product.controller.active_calls()),
            "journal_pending": pending, "asr": product.asr.state,
            "asr_restarts": product.asr.restarts}


def build_api(product: Product):
    return create_app(session_factory=product.session_factory, journal=product.journal,
                      metrics=product.metrics, active_calls=product.controller.active_calls,
                      health=lambda: product_health(product))


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handling: the product drains calls first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_forever(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_product(settings) as product:
        config = uvicorn.Config(build_api(product), host=settings.address,
                                port=settings.http_port, log_config=None, access_log=False)
        api = _ApiServer(config)
        api_task = asyncio.create_task(api.serve())
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({api_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        if api_task.done():  # the API could not start (port taken ...): nothing to drain for
            stop_task.cancel()
            raise StartupError(f"HTTP API 无法在 {settings.address}:{settings.http_port} 监听")
        await drain_calls(settings, product.controller, product.media)
        api.should_exit = True
        await api_task
