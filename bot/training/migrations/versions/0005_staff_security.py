"""staff security: opaque chat id, session generation, database lock-out, one-time claim codes

Revision ID: 0002_security
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = '0002_security'
down_revision = '0004_answer_ratings'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chat_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claim_code_hash', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_staff_chat_id'), ['chat_id'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('staff', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_chat_id'))
        for column in ('claimed_at', 'claim_code_hash', 'locked_until', 'failed_logins', 'session_generation',
                       'chat_id'):
            batch_op.drop_column(column)
