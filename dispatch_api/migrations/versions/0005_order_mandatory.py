"""Mandatory orders: an order the plan must serve (never deferred).

Revision ID: 0005_order_mandatory
Revises: 0004_shared_state
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_order_mandatory"
down_revision = "0004_shared_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column("mandatory", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("mandatory")
