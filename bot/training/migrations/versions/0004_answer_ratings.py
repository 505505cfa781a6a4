"""answer ratings: thumbs up/down on policy answers

Revision ID: 0004_answer_ratings
Revises: 0003_assignments
Create Date: 2026-12-01 05:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_answer_ratings'
down_revision = '0003_assignments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('answer_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('answer_key', sa.String(length=64), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('normalised', sa.String(length=500), nullable=False),
    sa.Column('citations', sa.Text(), nullable=False),
    sa.Column('helpful', sa.Boolean(), nullable=False),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('staff_id', 'answer_key', name='uq_rating_answer')
    )
    with op.batch_alter_table('answer_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_ratings_staff_id'), ['staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_ratings_normalised'), ['normalised'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_ratings_rated_at'), ['rated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answer_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_ratings_rated_at'))
        batch_op.drop_index(batch_op.f('ix_answer_ratings_normalised'))
        batch_op.drop_index(batch_op.f('ix_answer_ratings_staff_id'))
    op.drop_table('answer_ratings')
