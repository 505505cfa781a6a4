"""refresher attempts: a quiz on just the clauses a new policy version changed

Revision ID: 0007_refresher_attempts
Revises: 0006_coordinator
Create Date: 2026-12-02 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_refresher_attempts'
down_revision = '0006_coordinator'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refresher', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('quiz_attempts', schema=None) as batch_op:
        batch_op.drop_column('refresher')
