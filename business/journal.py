"""Write-ahead journal: records survive a crash or a database outage.

``append`` writes one JSON line to an append-only segment file and fsyncs before it returns.
``apply_pending`` writes the entries to the database in order through the idempotent service
functions, one transaction per entry, and records its position in ``applied.json``:

- a database error (connection refused, server gone, locked SQLite...) stops it and leaves
  the entry pending; the next call retries from there;
- a permanent error of one entry (unknown account, conflicting number: a
  :class:`~business.errors.BusinessError`, an integrity or data error) moves that entry to
  ``rejected.jsonl`` with the error, so one bad entry cannot block the others;
- a crash between a commit and the position update replays the entry, which is a no-op
  because every write is idempotent (``call.upsert`` entries replay in order, so the last
  snapshot of a call wins).

Fully applied segments are deleted once the appender has moved to a newer one. One
``Journal`` owns a directory (an exclusive lock file enforces it); it is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import inspect
import json
import logging
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from business import services
from business.errors import BusinessError, InvalidInput

log = logging.getLogger(__name__)

WORK_ORDER_CREATE = "work_order.create"
CALLBACK_CREATE = "callback.create"
CALL_UPSERT = "call.upsert"
KINDS = (WORK_ORDER_CREATE, CALLBACK_CREATE, CALL_UPSERT)

CHINA_TZ = timezone(timedelta(hours=8))  # work-order numbers carry the local date
SEGMENT_BYTES = 4 * 1024 * 1024
PERMANENT_DB_ERRORS = (sa_exc.IntegrityError, sa_exc.DataError)


class JournalBusy(RuntimeError):
    """Another Journal (in this or another process) already owns the directory."""


@dataclass(frozen=True)
class Position:
    segment: int
    offset: int


# --- payload validation -----------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _check_kwargs(func: Callable[..., Any], payload: dict[str, Any]) -> None:
    params = inspect.signature(func).parameters
    allowed = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
    required = {n for n in allowed if params[n].default is inspect.Parameter.empty}
    unknown, missing = set(payload) - allowed, required - set(payload)
    if unknown:
        raise InvalidInput(f"未知字段：{', '.join(sorted(unknown))}")
    if missing:
        raise InvalidInput(f"缺少字段：{', '.join(sorted(missing))}")


def validate_payload(kind: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Check an entry before it is written; returns the payload to store."""
    if not isinstance(payload, dict):
        raise InvalidInput("日志内容必须是字典")
    payload = dict(payload)
    if kind == CALL_UPSERT:
        services.check_call_record(payload)
        return payload
    if kind == WORK_ORDER_CREATE:
        func: Callable[..., Any] = services.create_work_order
        services.check_work_order_fields(payload.get("number"), payload.get("type"))
    elif kind == CALLBACK_CREATE:
        func = services.create_callback_request
    else:
        raise InvalidInput(f"未知的日志类型：{kind}")
    if payload.get("created_at") is None:
        payload["created_at"] = now
    services.as_utc(payload["created_at"], "created_at")
    _check_kwargs(func, payload)
    return payload


def _apply_entry(session: Session, kind: str, payload: dict[str, Any]) -> None:
    if kind == WORK_ORDER_CREATE:
        services.create_work_order(session, **payload)
    elif kind == CALLBACK_CREATE:
        services.create_callback_request(session, **payload)
    elif kind == CALL_UPSERT:
        services.upsert_call_record(session, record=payload)
    else:
        raise InvalidInput(f"未知的日志类型：{kind}")


# --- small file helpers -----------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, text: str, *, sync: bool = True) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)
    if sync:
        _fsync_dir(path.parent)


def _append_synced(path: Path, data: bytes) -> bool:
    """Append and fsync; returns True when the file was created."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return created


def _complete_lines(path: Path, offset: int) -> Iterator[tuple[bytes, int]]:
    """Complete lines from ``offset`` with the offset after each (a torn tail is skipped)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return
    pos = 0
    while (end := data.find(b"\n", pos)) >= 0:
        yield data[pos:end], offset + end + 1
        pos = end + 1


class _DatabaseDown(Exception):
    pass


class Journal:
    def __init__(
        self,
        directory: Path,
        session_factory: Callable[[], Session],
        *,
        segment_bytes: int = SEGMENT_BYTES,
        poll_interval: float = 5.0,
        max_backoff: float = 10.0,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._session_factory = session_factory
        self._segment_bytes = segment_bytes
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._append_lock = threading.Lock()
        self._apply_lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self._owner = self._take_ownership()
        self._segment = max(self._segments(), default=1)
        self._repair_tail()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.blocked = False  # True while the database refuses pending entries
        self.last_error: str | None = None

    # --- ownership and files ------------------------------------------------------------

    def _take_ownership(self) -> int:
        fd = os.open(self.directory / "journal.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalBusy(f"journal directory already in use: {self.directory}") from None
        return fd

    def close(self) -> None:
        if self._owner >= 0:
            os.close(self._owner)
            self._owner = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _segment_path(self, number: int) -> Path:
        return self.directory / f"segment-{number:08d}.jsonl"

    def _segments(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in self.directory.glob("segment-*.jsonl"))

    def _repair_tail(self) -> None:
        """After a crash mid-write, end the torn line so later entries start cleanly."""
        path = self._segment_path(self._segment)
        if not path.exists() or path.stat().st_size == 0:
            return
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        if torn:
            _append_synced(path, b"\n")

    # --- appending ----------------------------------------------------------------------

    def append(self, kind: str, payload: dict[str, Any]) -> str:
        """Durably append one entry (fsynced before returning); returns the entry id."""
        now = datetime.now(UTC)
        payload = validate_payload(kind, payload, now)
        entry_id = uuid.uuid4().hex
        entry = {"id": entry_id, "at": now, "kind": kind, "payload": payload}
        try:
            line = json.dumps(entry, ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"日志内容无法序列化：{exc}") from None
        with self._append_lock:
            path = self._segment_path(self._segment)
            if _append_synced(path, line.encode("utf-8") + b"\n"):
                _fsync_dir(self.directory)
            if path.stat().st_size >= self._segment_bytes:
                self._segment += 1
        self._notify()
        return entry_id

    def _notify(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop has closed
            loop.call_soon_threadsafe(wake.set)

    # --- applying -----------------------------------------------------------------------

    def _progress_path(self) -> Path:
        return self.directory / "applied.json"

    def _load_progress(self) -> Position:
        first = min(self._segments(), default=1)
        try:
            data = json.loads(self._progress_path().read_text(encoding="utf-8"))
            pos = Position(int(data["segment"]), int(data["offset"]))
        except (OSError, ValueError, KeyError, TypeError):
            return Position(first, 0)  # replaying is safe: every write is idempotent
        return pos if pos.segment >= first else Position(first, 0)

    def _save_progress(self, pos: Position, *, sync: bool) -> None:
        text = json.dumps({"segment": pos.segment, "offset": pos.offset})
        _write_atomic(self._progress_path(), text, sync=sync)

    def apply_pending(self) -> int:
        """Apply pending entries in order; returns how many reached the database."""
        with self._apply_lock:
            pos = self._load_progress()
            applied = 0
            try:
                applied, pos = self._apply_from(pos)
                self.blocked, self.last_error = False, None
            except _DatabaseDown as exc:
                self.blocked, self.last_error = True, str(exc.__cause__ or exc)
                applied, pos = exc.args
            self._save_progress(pos, sync=True)
            return applied

    def _apply_from(self, pos: Position) -> tuple[int, Position]:
        applied = 0
        while True:
            newer_exists = self._segment_path(pos.segment + 1).exists()
            progressed = False
            for line, end in _complete_lines(self._segment_path(pos.segment), pos.offset):
                try:
                    applied += self._apply_line(line)
                except _DatabaseDown as exc:
                    raise _DatabaseDown(applied, pos) from exc.__cause__
                pos = Position(pos.segment, end)
                self._save_progress(pos, sync=False)
                progressed = True
            if progressed:
                continue
            if not newer_exists:
                return applied, pos
            self._segment_path(pos.segment).unlink(missing_ok=True)
            pos = Position(pos.segment + 1, 0)
            self._save_progress(pos, sync=True)

    def _apply_line(self, line: bytes) -> int:
        if not line.strip():
            return 0
        try:
            entry = json.loads(line)
            kind, payload = entry["kind"], entry["payload"]
        except (ValueError, KeyError, TypeError) as exc:
            self._reject({"raw": line.decode("utf-8", "replace")}, f"损坏的日志行：{exc}")
            return 0
        try:
            with self._session_factory() as session, session.begin():
                _apply_entry(session, kind, payload)
        except (BusinessError, *PERMANENT_DB_ERRORS) as exc:
            self._reject(entry, getattr(exc, "message", None) or str(exc))
            return 0
        except Exception as exc:  # the database is down or refusing: retry later
            raise _DatabaseDown() from exc
        return 1

    def _reject(self, entry: dict[str, Any], error: str) -> None:
        log.error("journal entry set aside (%s): %s", entry.get("id", "?"), error)
        record = {"rejected_at": datetime.now(UTC), "error": error, "entry": entry}
        line = json.dumps(record, ensure_ascii=False, default=_json_default) + "\n"
        _append_synced(self.directory / "rejected.jsonl", line.encode("utf-8"))

    def rejected(self) -> list[dict[str, Any]]:
        """Entries set aside because of a permanent error, with the error."""
        path = self.directory / "rejected.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def pending_count(self) -> int:
        pos = self._load_progress()
        count = 0
        for number in self._segments():
            if number >= pos.segment:
                offset = pos.offset if number == pos.segment else 0
                count += sum(1 for _ in _complete_lines(self._segment_path(number), offset))
        return count

    # --- background loop ----------------------------------------------------------------

    async def run(self, stop_event: asyncio.Event) -> None:
        """Apply entries promptly after each append; back off while the database is down.
        Database work runs in a thread; a last pass runs when ``stop_event`` is set."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        failures = 0
        try:
            while not stop_event.is_set():
                self._wake.clear()
                if await asyncio.to_thread(self._apply_safely):
                    failures = 0
                    await self._wait(stop_event, self._poll_interval, wake=True)
                else:
                    failures += 1
                    await self._wait(stop_event, self._backoff(failures), wake=False)
            await asyncio.to_thread(self._apply_safely)
        finally:
            self._loop = self._wake = None

    def _apply_safely(self) -> bool:
        try:
            self.apply_pending()
        except Exception:  # never let the loop die; the entries stay pending
            log.exception("journal apply failed")
            return False
        if self.blocked:
            log.warning("database unavailable, journal entries pending: %s", self.last_error)
        return not self.blocked

    def _backoff(self, failures: int) -> float:
        base = min(self._max_backoff, 0.2 * 2 ** min(failures - 1, 10))
        return base * random.uniform(0.8, 1.2)

    async def _wait(self, stop_event: asyncio.Event, timeout: float, *, wake: bool) -> None:
        waiters = [asyncio.ensure_future(stop_event.wait())]
        if wake and self._wake is not None:
            waiters.append(asyncio.ensure_future(self._wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # --- work-order numbers -------------------------------------------------------------

    def allocate_work_order_number(self) -> str:
        """A unique 12-digit number YYMMDD + 6-digit sequence, allocated without the
        database (the counter is persisted in the journal directory before returning)."""
        today = datetime.now(CHINA_TZ).strftime("%y%m%d")
        path = self.directory / "work_order_counter.json"
        with self._counter_lock:
            day, seq = self._read_counter(path)
            if today > day:  # a clock set back keeps the later day: numbers stay unique
                day, seq = today, 0
            seq += 1
            if seq > 999_999:
                raise RuntimeError("work-order sequence exhausted for today")
            _write_atomic(path, json.dumps({"day": day, "seq": seq}))
        return f"{day}{seq:06d}"

    @staticmethod
    def _read_counter(path: Path) -> tuple[str, int]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return str(data["day"]), int(data["seq"])
        except FileNotFoundError:
            return "000000", 0
