"""Engines, sessions and the schema (Alembic migrations run programmatically).

Services never commit: the caller owns the transaction. Use :func:`session_scope` (commits
on success, rolls back on error) or ``with factory.begin() as session:``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = 5000, **kwargs: Any) -> Engine:
    """An engine for ``sqlite:///...`` or ``postgresql+psycopg://...`` URLs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_busy_timeout_ms, **kwargs)
    connect_args = kwargs.pop("connect_args", {})
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args.setdefault("connect_timeout", 5)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


def _sqlite_engine(url: str, busy_timeout_ms: int, **kwargs: Any) -> Engine:
    connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session in a transaction: committed on success, rolled back on error."""
    with factory.begin() as session:
        yield session


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def create_schema(engine: Engine, *, revision: str = "head") -> None:
    """Bring the database to ``revision`` by running the Alembic migrations."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
