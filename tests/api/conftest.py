"""An API under test: TestClient over ``create_app`` on a real database with demo data.

Every test runs on SQLite and on PostgreSQL (``HOTLINE_TEST_POSTGRES_URL``; skipped with the
reason when unset or unreachable), each PostgreSQL test in its own schema. The demo data is
generated at the real current time, so its outages are current for the API's clock.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from business.db import create_schema, make_engine, make_session_factory
from business.demo import load_demo_data
from business.journal import Journal
from hotline.app import create_app
from hotline.metrics import Metrics

PG_ENV = "HOTLINE_TEST_POSTGRES_URL"
DEMO_SIZE = 60


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" | "postgresql"
    url: str


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
        yield Database("postgresql", url.render_as_string(hide_password=False))
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
def factory(engine: Engine) -> sessionmaker[Session]:
    session_factory = make_session_factory(engine)
    load_demo_data(session_factory, accounts=DEMO_SIZE, now=datetime.now(UTC))
    return session_factory


@dataclass
class Api:
    client: TestClient
    factory: sessionmaker[Session]
    journal: Journal
    metrics: Metrics
    active: list[dict[str, Any]] = field(default_factory=list)
    health: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def api(factory: sessionmaker[Session], tmp_path: Path) -> Iterator[Api]:
    journal = Journal(tmp_path / "journal", factory)
    metrics = Metrics()
    state = Api(client=None, factory=factory, journal=journal, metrics=metrics)  # type: ignore[arg-type]

    def health() -> dict[str, Any]:
        metrics.calls_in_progress.set(len(state.active))
        return dict(state.health)

    app = create_app(session_factory=factory, journal=journal, metrics=metrics,
                     active_calls=lambda: [dict(r) for r in state.active], health=health)
    with TestClient(app, raise_server_exceptions=False) as client:
        state.client = client
        yield state
    journal.close()


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """A JSON error with a stable code and a Chinese message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body.get("message", "")), body
    if code is not None:
        assert body["code"] == code, body
    return body
