"""Alembic environment: runs on the connection osint hands it (see storage/db.py)."""

from __future__ import annotations

from alembic import context

from osint.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - osint always passes its connection
    raise RuntimeError("run migrations through 'osint db upgrade' (osint.storage.db.upgrade)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
