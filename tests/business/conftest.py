"""Database fixtures: every DB test runs on SQLite and on PostgreSQL.

The PostgreSQL URL comes from ``HOTLINE_TEST_POSTGRES_URL``; when it is unset or the server
is unreachable the PostgreSQL variant is skipped with the reason. Each PostgreSQL test gets a
fresh, uniquely named schema (via ``search_path``), dropped afterwards, so parallel runs do
not collide.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from business.db import create_schema, make_engine, make_session_factory
from business.demo import load_demo_data
from tests.business.pgproxy import TcpProxy

PG_ENV = "HOTLINE_TEST_POSTGRES_URL"
# A fixed instant for demo data and queries (Beijing 2025-06-15 18:00).
NOW = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)
DEMO_SIZE = 300


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str
    schema: str | None = None


def _postgres(base: str) -> Iterator[Database]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {base} unreachable: {str(exc.orig).strip()}")
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Database("postgresql", url.render_as_string(hide_password=False), schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite:///{tmp_path / 'hotline.db'}")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL variant skipped")
    yield from _postgres(base)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    eng = make_engine(database.url)
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


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
