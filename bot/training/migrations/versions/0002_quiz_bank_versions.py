"""quiz bank versions (the coordinator's quiz editor)

Revision ID: 0002_quiz_banks
Revises: 0001
Create Date: 2026-12-01 05:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_quiz_banks'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quiz_bank_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy', sa.String(length=100), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('policy', 'version', name='uq_bank_version')
    )
    with op.batch_alter_table('quiz_bank_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quiz_bank_versions_policy'), ['policy'], unique=False)
    with op.batch_alter_table('quiz_answers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_version', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('quiz_answers', schema=None) as batch_op:
        batch_op.drop_column('bank_version')
    with op.batch_alter_table('quiz_bank_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quiz_bank_versions_policy'))
    op.drop_table('quiz_bank_versions')
