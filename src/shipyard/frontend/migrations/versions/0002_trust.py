"""Trust: join tokens with a use count and an appliance; hosts' source address and nonce.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tokens", sa.Column("uses_left", sa.Integer(), nullable=True))
    op.add_column("tokens", sa.Column("appliance", sa.String(63), nullable=True))
    op.add_column("hosts", sa.Column("source_ip", sa.String(45), nullable=False, server_default=""))
    op.add_column("hosts", sa.Column("nonce_digest", sa.String(64), nullable=True))
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_tokens_expires_at", "tokens")
    with op.batch_alter_table("hosts") as batch:
        batch.drop_column("nonce_digest")
        batch.drop_column("source_ip")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("appliance")
        batch.drop_column("uses_left")
