"""Alembic environment: the engine comes from the caller, never from a config file."""

from __future__ import annotations

from alembic import context

from shipyard.frontend.models import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
