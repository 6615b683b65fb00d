"""person display name

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 09:00:00

A person's name as the source gave it (FHIR Patient.name), for listings; nullable because
mgcare JSON records and older rows carry none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("display_name")
