"""Isolation and scale-out: key scopes, expiry and peppered hashes; events keyed per author;
audit lines carry their network; jobs carry their owner and heartbeat; route documents shared
between processes; a version per day of orders; the live feed and outgoing webhooks.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_EVENT_COLUMNS = (
    "id, network, date, plan, route, vehicle, stop, site, type, reason, orders, at, at_s, "
    "courier, digest, received_at"
)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("networks", sa.Text))
        batch.add_column(sa.Column("expires_at", sa.String(40)))
        batch.add_column(sa.Column("last_used_at", sa.String(40)))
        batch.add_column(
            sa.Column("hash_scheme", sa.String(10), nullable=False, server_default="sha256")
        )
        batch.add_column(sa.Column("replaced_by", sa.Integer))
    with op.batch_alter_table("audit") as batch:
        batch.add_column(sa.Column("network", sa.String(100)))
    op.create_index("ix_audit_network", "audit", ["network", "id"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(200)))
        batch.add_column(sa.Column("heartbeat_at", sa.String(40)))
        batch.add_column(sa.Column("idempotency_key", sa.String(300)))
    op.create_index("ix_jobs_idempotency", "jobs", ["idempotency_key"], unique=True)

    # events: a surrogate sequence number (the live feed's cursor) and the client's id unique
    # per (plan, author) instead of globally
    op.create_table(
        "events_v3",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("network", sa.String(100), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        sa.Column("plan", sa.Integer, nullable=False),
        sa.Column("route", sa.String(120), nullable=False),
        sa.Column("vehicle", sa.String(100), nullable=False),
        sa.Column("stop", sa.Integer, nullable=False),
        sa.Column("site", sa.String(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("orders", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("at_s", sa.Integer, nullable=False),
        sa.Column("courier", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("plan", "author", "id", name="uq_events_plan_author_id"),
    )
    op.execute(
        f"INSERT INTO events_v3 ({_EVENT_COLUMNS}, author) "
        f"SELECT {_EVENT_COLUMNS}, 'legacy' FROM events"
    )
    op.drop_index("ix_events_network_date_vehicle", table_name="events")
    op.drop_table("events")
    op.rename_table("events_v3", "events")
    op.create_index("ix_events_network_date_vehicle", "events", ["network", "date", "vehicle"])

    op.create_table(
        "order_days",
        sa.Column("network", sa.String(100), primary_key=True),
        sa.Column("date", sa.String(10), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "route_docs",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("plan", sa.Integer, nullable=False),
        sa.Column("etag", sa.String(40), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_route_docs_plan", "route_docs", ["plan"])
    op.create_table(
        "feed",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("vehicle", sa.String(100)),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("ix_feed_network", "feed", ["network", "seq"])
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("network", sa.String(100), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("kinds", sa.Text),
        sa.Column("cursor", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_at", sa.String(40)),
        sa.Column("last_error", sa.Text),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("value", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("events keyed per author cannot go back to global ids")
