"""Shared database fixtures: every database test runs on SQLite and on PostgreSQL.

The PostgreSQL URL comes from ``HOTLINE_TEST_POSTGRES_URL`` (``.ci/run`` sets it); when it is
unset or the server is unreachable the PostgreSQL variant is skipped with the reason. Each
PostgreSQL test gets a fresh, uniquely named schema (via ``search_path``), dropped afterwards,
so parallel runs do not collide.
"""

from __future__ import annotations

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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
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
