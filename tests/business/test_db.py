"""Engine, pragmas and migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from business.db import create_schema
from business.models import Base
from tests.business.conftest import Database


def test_migrations_match_the_models(engine: Engine) -> None:
    create_schema(engine)  # a second run is a no-op
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() == "0001"
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())


def test_sqlite_pragmas(engine: Engine, database: Database) -> None:
    with engine.connect() as conn:
        if database.kind != "sqlite":
            assert conn.execute(text("SELECT current_schema()")).scalar() == database.schema
            return
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 5000
