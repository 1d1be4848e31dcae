"""outbox_messages.language: the reader's language, kept with a queued message so its HTML part (built when it
is sent) has the right ``lang`` and the right words for its button and footer

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 02:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=5), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('language')
