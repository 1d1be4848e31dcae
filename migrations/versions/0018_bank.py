"""bank: statement imports and their lines, matches to the bank account's postings, and each fund's CSV layout

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 23:30:00

On both databases: a file is imported once per fund and account (its SHA-256), a line once (its bank
transaction id, or its fingerprint of date, amount and reference), a posting is matched once, and a line is
matched whole or not at all (CHECK matched_cents = 0 OR matched_cents = amount_cents). On PostgreSQL a deferred
constraint trigger also checks at commit that a line's matches sum to its ``matched_cents``, whatever wrote them.
"""
import sqlalchemy as sa
from alembic import op

import fundapp.extensions

# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

PG_BANK_GUARDS = [
    """
    CREATE FUNCTION bank_check_line_matches() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        line bigint;
        whole bigint;
        matched bigint;
        total bigint;
    BEGIN
        IF TG_TABLE_NAME = 'bank_matches' THEN
            IF TG_OP = 'DELETE' THEN line := OLD.line_id; ELSE line := NEW.line_id; END IF;
        ELSE
            line := NEW.id;
        END IF;
        SELECT amount_cents, matched_cents INTO whole, matched FROM bank_statement_lines WHERE id = line;
        IF NOT FOUND THEN RETURN NULL; END IF;
        SELECT coalesce(sum(amount_cents), 0) INTO total FROM bank_matches WHERE line_id = line;
        IF total <> matched THEN
            RAISE EXCEPTION 'bank_line_matches_sum: bank line % of % cents says % matched, its matches sum to %',
                line, whole, matched, total USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE CONSTRAINT TRIGGER bank_matches_sum AFTER INSERT OR UPDATE OR DELETE ON bank_matches "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bank_check_line_matches()",
    "CREATE CONSTRAINT TRIGGER bank_lines_matched_sum AFTER INSERT OR UPDATE OF matched_cents, amount_cents "
    "ON bank_statement_lines DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bank_check_line_matches()",
]
PG_BANK_GUARDS_DROP = [
    "DROP TRIGGER IF EXISTS bank_lines_matched_sum ON bank_statement_lines",
    "DROP TRIGGER IF EXISTS bank_matches_sum ON bank_matches",
    "DROP FUNCTION IF EXISTS bank_check_line_matches()",
]


def upgrade():
    op.create_table('bank_csv_formats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('date_column', sa.String(length=100), nullable=False),
    sa.Column('description_column', sa.String(length=100), nullable=False),
    sa.Column('amount_column', sa.String(length=100), nullable=False),
    sa.Column('debit_column', sa.String(length=100), nullable=False),
    sa.Column('credit_column', sa.String(length=100), nullable=False),
    sa.Column('reference_column', sa.String(length=100), nullable=False),
    sa.Column('date_format', sa.String(length=20), nullable=False),
    sa.Column('updated_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_bank_csv_formats_fund_id_funds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_csv_formats')),
    sa.UniqueConstraint('fund_id', name=op.f('uq_bank_csv_formats_fund_id'))
    )
    op.create_table('bank_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('file_format', sa.String(length=10), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('ending_balance_cents', sa.BigInteger(), nullable=True),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('imported_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_bank_imports_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_bank_imports_fund_id_funds')),
    sa.ForeignKeyConstraint(['imported_by_id'], ['users.id'], name=op.f('fk_bank_imports_imported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_imports')),
    sa.UniqueConstraint('fund_id', 'account_id', 'sha256', name=op.f('uq_bank_imports_fund_id_account_id_sha256'))
    )
    op.create_table('bank_statement_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('line_date', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('fitid', sa.String(length=255), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('matched_cents', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('amount_cents <> 0', name=op.f('ck_bank_statement_lines_bank_line_not_zero')),
    sa.CheckConstraint('matched_cents = 0 OR matched_cents = amount_cents', name=op.f('ck_bank_statement_lines_bank_line_matched_whole')),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_bank_statement_lines_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_bank_statement_lines_fund_id_funds')),
    sa.ForeignKeyConstraint(['import_id'], ['bank_imports.id'], name=op.f('fk_bank_statement_lines_import_id_bank_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_statement_lines')),
    sa.UniqueConstraint('fund_id', 'account_id', 'fingerprint', name=op.f('uq_bank_statement_lines_fund_id_account_id_fingerprint')),
    sa.UniqueConstraint('fund_id', 'account_id', 'fitid', name=op.f('uq_bank_statement_lines_fund_id_account_id_fitid'))
    )
    with op.batch_alter_table('bank_statement_lines', schema=None) as batch_op:
        batch_op.create_index('ix_bank_statement_lines_fund_date', ['fund_id', 'line_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_statement_lines_import_id'), ['import_id'], unique=False)

    op.create_table('bank_matches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fund_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('posting_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', fundapp.extensions.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_cents <> 0', name=op.f('ck_bank_matches_bank_match_not_zero')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_bank_matches_created_by_id_users')),
    sa.ForeignKeyConstraint(['fund_id'], ['funds.id'], name=op.f('fk_bank_matches_fund_id_funds')),
    sa.ForeignKeyConstraint(['line_id'], ['bank_statement_lines.id'], name=op.f('fk_bank_matches_line_id_bank_statement_lines')),
    sa.ForeignKeyConstraint(['posting_id'], ['postings.id'], name=op.f('fk_bank_matches_posting_id_postings')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_matches')),
    sa.UniqueConstraint('posting_id', name=op.f('uq_bank_matches_posting_id'))
    )
    with op.batch_alter_table('bank_matches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_matches_line_id'), ['line_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        for statement in PG_BANK_GUARDS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in PG_BANK_GUARDS_DROP:
            op.execute(statement)
    with op.batch_alter_table('bank_matches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_matches_line_id'))

    op.drop_table('bank_matches')
    with op.batch_alter_table('bank_statement_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_statement_lines_import_id'))
        batch_op.drop_index('ix_bank_statement_lines_fund_date')

    op.drop_table('bank_statement_lines')
    op.drop_table('bank_imports')
    op.drop_table('bank_csv_formats')
