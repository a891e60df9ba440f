"""Alembic environment. Run through bot.migrate (or `marugoto db upgrade`), never alembic.ini."""

from __future__ import annotations

from alembic import context

from bot.models import Base

target_metadata = Base.metadata
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
