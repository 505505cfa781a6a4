"""assignments (which policies each role must read-and-sign and pass, by when)

Revision ID: 0003_assignments
Revises: 0002_quiz_banks
Create Date: 2026-12-01 05:05:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_assignments'
down_revision = '0002_quiz_banks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('due', sa.Date(), nullable=True),
    sa.Column('sign', sa.Boolean(), nullable=False),
    sa.Column('quiz', sa.Boolean(), nullable=False),
    sa.Column('section', sa.String(length=300), nullable=True),
    sa.Column('created_by', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('policy', 'role', name='uq_assignment_policy_role')
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_policy'), ['policy'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_policy'))
    op.drop_table('assignments')
