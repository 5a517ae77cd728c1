"""An API under test: TestClient over ``create_app`` on a real database with demo data.

Every test runs on SQLite and on PostgreSQL (``HOTLINE_TEST_POSTGRES_URL``; skipped with the
reason when unset or unreachable), each PostgreSQL test in its own schema. The demo data is
generated at the real current time, so its outages are current for the API's clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from business.demo import load_demo_data
from business.journal import Journal
from hotline.app import create_app
from hotline.metrics import Metrics

DEMO_SIZE = 60


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
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
