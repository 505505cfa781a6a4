"""coordinator product: topic contacts on 'not covered' questions, job titles mapped to roles

Revision ID: 0006_coordinator
Revises: 0002_security
"""
from alembic import op
import sqlalchemy as sa

revision = '0006_coordinator'
down_revision = '0002_security'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('question_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact', sa.String(length=300), nullable=True))
    op.create_table('job_titles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=50), nullable=False),
    sa.Column('added_by', sa.String(length=254), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('title', name='uq_job_title')
    )


def downgrade() -> None:
    op.drop_table('job_titles')
    with op.batch_alter_table('question_links', schema=None) as batch_op:
        batch_op.drop_column('contact')
