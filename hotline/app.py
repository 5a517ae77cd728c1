"""The FastAPI app factory: routers of the parts, JSON errors in Chinese, health and metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from business.errors import BusinessError, Conflict, InvalidInput, NotFound
from business.http import ROUTERS
from hotline.metrics import Metrics

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Conflict: 409, InvalidInput: 422}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status)


def _business_error(_request: Request, exc: BusinessError) -> JSONResponse:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    return _error(status, exc.code, exc.message)


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
    return _error(422, "invalid_input", "请求参数有误", details=details)


def _database_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return _error(503, "database_unavailable", "数据库暂时不可用，请稍后重试")


def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database integrity error: %s", exc.__class__.__name__)
    return _error(409, "conflict", "数据冲突，请刷新后重试")


def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database data error: %s", exc.__class__.__name__)
    return _error(422, "invalid_input", "数据格式不被数据库接受")


def _internal_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error in the HTTP API", exc_info=exc)
    return _error(500, "internal_error", "服务器内部错误，请稍后重试")


def _database_status(session_factory: Callable) -> str:
    try:
        with session_factory() as session:
            session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means the API cannot serve database reads
        log.warning("health: database unavailable: %s", exc.__class__.__name__)
        return "unavailable"
    return "ok"


def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    messages = {404: "资源不存在", 405: "不支持的请求方法"}
    return _error(exc.status_code, f"http_{exc.status_code}",
                  messages.get(exc.status_code, str(exc.detail)))


def create_app(*, session_factory: Callable, journal: Any, metrics: Metrics,
               active_calls: Callable[[], list[dict]] = list,
               health: Callable[[], dict[str, Any]] = dict) -> FastAPI:
    app = FastAPI(title="95598 热线 API", version="0.1.0",
                  description="95598 供电服务热线：户号、工单、通话记录、紧急公告")
    app.state.session_factory = session_factory
    app.state.journal = journal
    app.state.active_calls = active_calls
    for router in ROUTERS:
        app.include_router(router)
    app.add_exception_handler(BusinessError, _business_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.get("/api/health", tags=["ops"], summary="健康检查（进程在运行即 200；数据库状态另列）")
    def get_health() -> dict[str, Any]:
        # The product keeps taking calls while the database is down (the journal holds
        # the records), so an unavailable database is reported, not a failed check.
        return {"status": "ok", "database": _database_status(session_factory), **health()}

    @app.get("/metrics", tags=["ops"], summary="Prometheus 指标", include_in_schema=False)
    def get_metrics() -> Response:
        health()  # refreshes the gauges
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app
