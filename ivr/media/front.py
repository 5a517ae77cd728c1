"""The Kamailio SIP front: one address for callers, INVITEs spread over the media workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

log = logging.getLogger(__name__)

KAMAILIO_PACKAGE = "kamailio"
MODULE_DIRS = ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/kamailio/modules")


class FrontError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class FrontConfig:
    address: str
    port: int
    workers: tuple[tuple[str, int], ...]  # (host, port) of each media worker
    run_dir: Path
    invite_rate_limit: int = 30
    rate_window: int = 2
    children: int = 2
    debug: int = 1  # kamailio log level: 1 = notice and worse
    fr_timer_ms: int = 2000
    ping_interval: int = 2
    ds_algorithm: int = 4  # round-robin

    @property
    def ctl_socket(self) -> Path:
        """kamcmd's unix socket (AF_UNIX paths are limited to ~107 bytes)."""
        path = self.run_dir / "ctl.sock"
        if len(str(path)) < 100:
            return path
        key = uuid.uuid5(uuid.NAMESPACE_URL, str(self.run_dir)).hex[:12]
        return Path(tempfile.gettempdir()) / f"hotline-kamctl-{key}.sock"


def find_kamailio() -> str:
    path = shutil.which("kamailio") or next(
        (p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio") if os.access(p, os.X_OK)),
        None,
    )
    if path is None:
        raise FrontError(
            "kamailio not found: install the Debian package "
            f"'{KAMAILIO_PACKAGE}' (apt-get install -y {KAMAILIO_PACKAGE})"
        )
    return path


def module_dir() -> str:
    for candidate in MODULE_DIRS:
        if os.path.isfile(os.path.join(candidate, "dispatcher.so")):
            return candidate
    raise FrontError(f"kamailio modules not found in {MODULE_DIRS}: reinstall '{KAMAILIO_PACKAGE}'")


MAX_BRANCHES = 31  # kamailio's limit: one front fails over across at most 30 workers


def render_config(cfg: FrontConfig) -> tuple[str, str]:
    """The kamailio.cfg text and the dispatcher.list text."""
    template = resources.files("ivr.media").joinpath("kamailio.cfg.tmpl").read_text()
    values = {
        "DEBUG": cfg.debug,
        "CHILDREN": cfg.children,
        "MAX_BRANCHES": min(MAX_BRANCHES, len(cfg.workers) + 1),
        "ADDRESS": cfg.address,
        "PORT": cfg.port,
        "MPATH": module_dir(),
        "FR_TIMER_MS": cfg.fr_timer_ms,
        "DISPATCHER_LIST": cfg.run_dir / "dispatcher.list",
        "PING_INTERVAL": cfg.ping_interval,
        "RATE": cfg.invite_rate_limit,
        "RATE_WINDOW": cfg.rate_window,
        "DS_ALGORITHM": cfg.ds_algorithm,
        "CTL_SOCKET": cfg.ctl_socket,
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", str(value))
    if "{{" in template:
        raise FrontError("kamailio.cfg.tmpl has an unknown placeholder")
    dispatchers = "".join(f"1 sip:{host}:{port} 0 0\n" for host, port in cfg.workers)
    return template, dispatchers


class KamailioFront:
    """Runs kamailio in the foreground as a child process (its own session)."""

    def __init__(self, cfg: FrontConfig, log_path: Path) -> None:
        self.cfg = cfg
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def write_config(self) -> Path:
        self.cfg.run_dir.mkdir(parents=True, exist_ok=True)
        text, dispatchers = render_config(self.cfg)
        (self.cfg.run_dir / "dispatcher.list").write_text(dispatchers)
        path = self.cfg.run_dir / "kamailio.cfg"
        path.write_text(text)
        return path

    async def start(self, timeout: float = 10.0) -> None:
        binary = find_kamailio()
        cfg_path = self.write_config()
        run = self.cfg.run_dir
        args = [binary, "-DD", "-E", "-f", str(cfg_path), "-P", str(run / "kamailio.pid"),
                "-Y", str(run), "-m", "32", "-M", "8", "-w", str(run)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True,
            )
        try:
            await asyncio.wait_for(self._wait_listening(), timeout)
        except (TimeoutError, FrontError) as exc:
            await self.stop()
            raise FrontError(f"kamailio did not start ({exc}); see {self.log_path}") from exc

    async def _wait_listening(self) -> None:
        while True:
            if not self.alive:
                raise FrontError(f"kamailio exited with {self.process.returncode}")
            if await asyncio.to_thread(options_ping, self.cfg.address, self.cfg.port, 0.3):
                return
            await asyncio.sleep(0.1)

    async def set_worker_active(self, host: str, port: int, active: bool) -> bool:
        """Put a worker in or out of the dispatcher set at once (True when kamailio agreed).

        Out of the set ("i"), kamailio sends it no INVITE and does not probe it; back in ("a")
        it is used again at once. Without this, an INVITE to a worker that is restarting waits
        for the branch timeout (fr_timer) before going to the next worker.
        """
        if not self.alive:
            return False
        kamcmd = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
        state = "a" if active else "i"
        args = [kamcmd, "-s", f"unix:{self.cfg.ctl_socket}", "dispatcher.set_state", state, "1",
                f"sip:{host}:{port}"]
        try:
            proc = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(proc.communicate(), 5.0)
        except (OSError, TimeoutError) as exc:
            log.warning("kamcmd dispatcher.set_state failed: %s", exc)
            return False
        if proc.returncode != 0:
            log.warning("kamcmd dispatcher.set_state %s %s:%s: %s", state, host, port,
                        out.decode(errors="replace").strip())
            return False
        return True

    async def stop(self, timeout: float = 5.0) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def options_ping(host: str, port: int, timeout: float) -> bool:
    """Send one SIP OPTIONS over UDP; True when any SIP response comes back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        tag = uuid.uuid4().hex[:12]
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{local_port};branch=z9hG4bK{tag}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{host}>;tag={tag}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {tag}@{host}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(msg.encode(), (host, port))
            data = sock.recv(4096)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")
