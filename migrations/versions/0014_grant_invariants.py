"""review: the database refuses a grant paid beyond its approval, payments that disagree with what the
grant says was paid, GrantsPayable in debit and an approval beyond what is available to grant

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 21:00:00

On both databases a CHECK keeps 0 <= amount_paid_cents <= amount_approved_cents. On PostgreSQL,
deferred constraint triggers check at commit, whatever wrote the rows (the app, raw SQL, a bulk load):

- ``grant_paid_matches_payments``: a grant's non-voided payments sum to its ``amount_paid_cents``;
  a payment is never deleted, its amount and grant never change, and a void is never undone.
- ``grants_payable_not_in_debit``: after a grant payment (or the reversal of an approval), the fund's
  Liabilities:GrantsPayable is not in debit.
- ``approval_within_available``: after a grant approval, available to grant (cash less grants
  payable less the reserve) is not below zero.

The last two run once per fund per transaction (at commit every check sees the same final state), so a
bulk load stays fast. GrantsPayable is summed from its postings; cash from the ledger's day totals (what
the app's balances read, with a row per account, day and slot rather than one or more per gift), which
``fund check-books`` proves equal to the postings.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

PG_GRANT_GUARDS = [
    """
    CREATE FUNCTION grant_check_paid() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        app bigint;
        approved bigint;
        paid bigint;
        total bigint;
    BEGIN
        IF TG_TABLE_NAME = 'grant_payments' THEN app := NEW.application_id; ELSE app := NEW.id; END IF;
        SELECT coalesce(amount_approved_cents, 0), amount_paid_cents INTO approved, paid
            FROM applications WHERE id = app;
        SELECT coalesce(sum(amount_cents), 0) INTO total
            FROM grant_payments WHERE application_id = app AND voided_at IS NULL;
        IF paid <> total OR paid > approved THEN
            RAISE EXCEPTION 'grant_paid_matches_payments: grant % says % cents paid of % approved, its payments sum to % cents',
                app, paid, approved, total USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE FUNCTION grant_payment_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' OR NEW.amount_cents <> OLD.amount_cents OR NEW.application_id <> OLD.application_id
                OR (OLD.voided_at IS NOT NULL AND NEW.voided_at IS NULL) THEN
            RAISE EXCEPTION 'grant payment % is kept as recorded: void it instead (% refused)', OLD.id, TG_OP
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE FUNCTION ledger_check_grant_money() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        flag text := 'fundapp.checked_' || TG_ARGV[0] || '_' || NEW.fund_id;
        payable bigint;
        cash bigint;
        reserve bigint;
    BEGIN
        IF current_setting(flag, true) = '1' THEN RETURN NULL; END IF;
        IF NEW.source_kind = 'reversal' AND NOT EXISTS (
                SELECT 1 FROM journal_entries WHERE id = NEW.reversal_of_id AND source_kind = 'grant.approval') THEN
            RETURN NULL;  -- only undoing an approval takes from GrantsPayable's credit (a void gives it back)
        END IF;
        PERFORM set_config(flag, '1', true);  -- deferred: every such check sees the final state, once is enough
        -- GrantsPayable from the postings themselves (a few per grant); cash from the day totals (a row per
        -- account, day and slot, where the postings are one or more per gift).
        SELECT coalesce(sum(p.amount_cents), 0) INTO payable
            FROM postings p JOIN ledger_accounts a ON a.id = p.account_id
            WHERE a.fund_id = NEW.fund_id AND a.name = 'Liabilities:GrantsPayable';
        IF TG_ARGV[0] = 'payable' AND payable > 0 THEN
            RAISE EXCEPTION 'grants_payable_not_in_debit: Liabilities:GrantsPayable of fund % would be % cents in debit',
                NEW.fund_id, payable USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF TG_ARGV[0] = 'available' THEN
            SELECT coalesce(sum(t.cents), 0) INTO cash
                FROM ledger_day_totals t JOIN ledger_accounts a ON a.id = t.account_id
                WHERE t.fund_id = NEW.fund_id AND a.name IN ('Assets:Stripe', 'Assets:Bank', 'Assets:Undeposited');
            SELECT reserve_cents INTO reserve FROM funds WHERE id = NEW.fund_id;
            IF cash + payable - reserve < 0 THEN
                RAISE EXCEPTION 'approval_within_available: fund % would have % cents available to grant',
                    NEW.fund_id, cash + payable - reserve USING ERRCODE = 'integrity_constraint_violation';
            END IF;
        END IF;
        RETURN NULL;
    END $$
    """,
    "CREATE CONSTRAINT TRIGGER grant_payments_match AFTER INSERT OR UPDATE ON grant_payments "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION grant_check_paid()",
    "CREATE CONSTRAINT TRIGGER applications_paid_match AFTER INSERT OR UPDATE OF amount_paid_cents, "
    "amount_approved_cents ON applications DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION grant_check_paid()",
    "CREATE TRIGGER grant_payments_fixed BEFORE UPDATE OR DELETE ON grant_payments "
    "FOR EACH ROW EXECUTE FUNCTION grant_payment_fixed()",
    "CREATE CONSTRAINT TRIGGER grants_payable_not_in_debit AFTER INSERT ON journal_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.source_kind IN ('grant.payment', 'reversal')) "
    "EXECUTE FUNCTION ledger_check_grant_money('payable')",
    "CREATE CONSTRAINT TRIGGER approval_within_available AFTER INSERT ON journal_entries "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.source_kind = 'grant.approval') "
    "EXECUTE FUNCTION ledger_check_grant_money('available')",
]
PG_GRANT_GUARDS_DROP = [
    "DROP TRIGGER IF EXISTS approval_within_available ON journal_entries",
    "DROP TRIGGER IF EXISTS grants_payable_not_in_debit ON journal_entries",
    "DROP TRIGGER IF EXISTS grant_payments_fixed ON grant_payments",
    "DROP TRIGGER IF EXISTS applications_paid_match ON applications",
    "DROP TRIGGER IF EXISTS grant_payments_match ON grant_payments",
    "DROP FUNCTION IF EXISTS ledger_check_grant_money()",
    "DROP FUNCTION IF EXISTS grant_payment_fixed()",
    "DROP FUNCTION IF EXISTS grant_check_paid()",
]


def upgrade():
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.create_check_constraint(
            'paid_within_approved', 'amount_paid_cents >= 0 AND amount_paid_cents <= coalesce(amount_approved_cents, 0)')
    if op.get_bind().dialect.name == 'postgresql':
        for statement in PG_GRANT_GUARDS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for statement in PG_GRANT_GUARDS_DROP:
            op.execute(statement)
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_applications_paid_within_approved'), type_='check')
