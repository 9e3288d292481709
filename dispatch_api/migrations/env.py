"""Alembic environment: uses the connection the app hands over, else COUNTYROUTE_DATABASE_URL."""

from __future__ import annotations

import os

from alembic import context

from dispatch_api.db import Base, make_engine
from dispatch_api.settings import DEFAULT_DATABASE_URL

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(os.environ.get("COUNTYROUTE_DATABASE_URL", DEFAULT_DATABASE_URL))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
