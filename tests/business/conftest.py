"""Business-core fixtures over the shared database fixtures of ``tests/conftest.py``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from business.db import make_engine
from business.demo import load_demo_data
from tests.business.pgproxy import TcpProxy
from tests.conftest import Database

# A fixed instant for demo data and queries (Beijing 2025-06-15 18:00).
NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
DEMO_SIZE = 300


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture
def demo_factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """A database holding a small demo data set generated at ``NOW``."""
    load_demo_data(session_factory, accounts=DEMO_SIZE, now=NOW)
    return session_factory


class Outage:
    """Makes the database unavailable to the code under test, then available again.

    PostgreSQL: the client connects through a TCP proxy that is stopped (open connections
    cut, new ones refused). SQLite: another connection holds an exclusive lock, so writes
    fail with "database is locked" after the (short) busy timeout."""

    def __init__(self, database: Database, tmp_path: Path) -> None:
        self.database = database
        self._proxy: TcpProxy | None = None
        self._lock: sqlite3.Connection | None = None
        self.url = database.url
        if database.kind == "postgresql":
            target = make_url(database.url)
            self._proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
            self._proxy.start()
            self.url = target.set(host="127.0.0.1", port=self._proxy.port).render_as_string(
                hide_password=False
            )

    def engine(self) -> Engine:
        return make_engine(self.url, sqlite_busy_timeout_ms=50)

    def down(self) -> None:
        if self._proxy is not None:
            self._proxy.stop()
            return
        path = make_url(self.database.url).database
        self._lock = sqlite3.connect(path, isolation_level=None, timeout=5)
        self._lock.execute("BEGIN EXCLUSIVE")

    def up(self) -> None:
        if self._proxy is not None:
            self._proxy.start()
            return
        if self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None

    def close(self) -> None:
        self.up()
        if self._proxy is not None:
            self._proxy.stop()


@pytest.fixture
def outage(database: Database, engine: Engine, tmp_path: Path) -> Iterator[Outage]:
    controller = Outage(database, tmp_path)
    yield controller
    controller.close()
