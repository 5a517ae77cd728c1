"""Shared database fixtures: every database test runs on SQLite and on PostgreSQL.

The PostgreSQL URL comes from ``HOTLINE_TEST_POSTGRES_URL`` (``.ci/run`` sets it); when it is
unset or the server is unreachable the PostgreSQL variant is skipped with the reason. Each
PostgreSQL test gets a fresh, uniquely named schema (via ``search_path``), dropped afterwards,
so parallel runs do not collide.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from business.db import create_schema, make_engine, make_session_factory

PG_ENV = "HOTLINE_TEST_POSTGRES_URL"


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str
    schema: str | None = None


@contextlib.contextmanager
def postgres_schema(base: str, prefix: str = "t") -> Iterator[str]:
    """A fresh, uniquely named schema on the test PostgreSQL, dropped afterwards.

    Skips the test, with the reason, when the server is unreachable."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    admin = create_engine(base, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {base} unreachable: {str(exc.orig).strip()}")
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def schema_url(base: str, schema: str, port: int | None = None) -> str:
    """``base`` with ``schema`` as its search path (and optionally another local port)."""
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    if port is not None:
        url = url.set(host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        yield Database("sqlite", f"sqlite:///{tmp_path / 'hotline.db'}")
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL variant skipped")
    with postgres_schema(base) as schema:
        yield Database("postgresql", schema_url(base, schema), schema)


@pytest.fixture
def engine(database: Database) -> Iterator[Engine]:
    eng = make_engine(database.url)
    create_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
