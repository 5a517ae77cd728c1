"""Alembic environment: uses the connection passed in ``config.attributes['connection']``
(see :func:`business.db.create_schema`), or ``sqlalchemy.url`` / ``HOTLINE_DATABASE_URL``."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection, create_engine

from business.models import Base

target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("HOTLINE_DATABASE_URL")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(_url())
    with engine.begin() as conn:
        _configure(conn)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
