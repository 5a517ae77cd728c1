"""/metrics, the docs, JSON errors for unknown routes, and a database that is down."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, make_url
from sqlalchemy.exc import OperationalError

from business import demo
from business.db import make_engine, make_session_factory
from business.journal import Journal
from hotline.app import create_app
from hotline.metrics import Metrics
from tests.api.conftest import Api, assert_error
from tests.conftest import Database


def test_metrics_is_prometheus_text(api: Api) -> None:
    api.active[:] = [{"id": "a"}, {"id": "b"}]
    api.metrics.calls_total.labels(result="completed").inc(3)
    api.metrics.worker_up.labels(worker="0").set(1)
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE hotline_calls_in_progress gauge" in text
    assert "hotline_calls_in_progress 2.0" in text  # refreshed by the health callable
    assert 'hotline_calls_total{result="completed"} 3.0' in text
    assert 'hotline_media_worker_up{worker="0"} 1.0' in text
    assert "hotline_journal_pending" in text


def test_docs_and_openapi(api: Api) -> None:
    docs = api.client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/health", "/api/accounts/{account_no}", "/api/work-orders",
                 "/api/work-orders/{number}", "/api/calls", "/api/callbacks",
                 "/api/announcements/emergency"):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/work-orders"])
    assert {"get", "patch"} <= set(paths["/api/work-orders/{number}"])
    assert {"get", "put", "delete"} <= set(paths["/api/announcements/emergency"])


def test_unknown_route_and_method_are_json(api: Api) -> None:
    assert_error(api.client.get("/api/nothing-here"), 404, "http_404")
    assert_error(api.client.delete("/api/work-orders"), 405, "http_405")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _down_url(database: Database, tmp_path: Path) -> str:
    if database.kind == "postgresql":
        return make_url(database.url).set(host="127.0.0.1", port=_closed_port()) \
            .render_as_string(hide_password=False)
    # SQLite: a database file in a directory that does not exist cannot be opened
    return f"sqlite:///{tmp_path / 'missing' / 'hotline.db'}"


@pytest.fixture
def down_client(database: Database, tmp_path: Path):
    engine = make_engine(_down_url(database, tmp_path))
    factory = make_session_factory(engine)
    journal = Journal(tmp_path / "down-journal", factory)
    app = create_app(session_factory=factory, journal=journal, metrics=Metrics())
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    journal.close()
    engine.dispose()


@pytest.mark.parametrize(("method", "url", "body"), [
    ("GET", f"/api/accounts/{demo.DEMO_PAID}", None),
    ("GET", "/api/work-orders", None),
    ("GET", f"/api/work-orders/{demo.DEMO_WORK_ORDER}", None),
    ("POST", "/api/work-orders", {"type": "咨询", "created_by": "坐席"}),
    ("PATCH", f"/api/work-orders/{demo.DEMO_WORK_ORDER}", {"status": "到达现场", "actor": "x"}),
    ("GET", "/api/calls", None),
    ("GET", "/api/callbacks", None),
    ("GET", "/api/announcements/emergency", None),
    ("PUT", "/api/announcements/emergency", {"text": "公告"}),
    ("DELETE", "/api/announcements/emergency", None),
])
def test_database_unavailable_is_503_json(down_client: TestClient, method: str, url: str,
                                          body: dict | None) -> None:
    response = down_client.request(method, url, json=body)
    error = assert_error(response, 503, "database_unavailable")
    assert "数据库" in error["message"]
    assert "Traceback" not in response.text


def test_health_reports_the_database_down(down_client: TestClient) -> None:
    response = down_client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["database"] == "unavailable"


def test_failed_commit_is_an_error_not_a_201(api: Api) -> None:
    """The transaction commits before the response: a commit that fails is a 503."""
    engine = api.factory.kw["bind"]
    before = api.client.get("/api/work-orders").json()["total"]

    def fail(_conn) -> None:
        raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(engine, "commit", fail)
    try:
        response = api.client.post("/api/work-orders",
                                   json={"type": "咨询", "created_by": "坐席"})
    finally:
        event.remove(engine, "commit", fail)
    assert_error(response, 503, "database_unavailable")
    assert api.client.get("/api/work-orders").json()["total"] == before


def test_unexpected_error_is_json_500(api: Api) -> None:
    def boom() -> list:
        raise RuntimeError("bug")

    api.client.app.state.active_calls = boom
    response = api.client.get("/api/calls")
    assert_error(response, 500, "internal_error")
    assert "Traceback" not in response.text and "bug" not in response.text
