"""Imports every model so metadata (and Alembic) see the whole schema."""
from fundapp.accounts.models import Member, RecoveryCode, RoleGrant, User, UserSession  # noqa: F401
from fundapp.applications.models import Application, ApplicationDocument, ApplicationMessage, FundRules  # noqa: F401
from fundapp.audit.models import AuditRecord  # noqa: F401
from fundapp.bank.models import BankCsvFormat, BankImport, BankMatch, BankStatementLine  # noqa: F401
from fundapp.donations.models import Deposit, Donation, Donor, MonthlyGift, ReceiptCounter, StatementSent, StripeEvent  # noqa: F401
from fundapp.funds.models import Fund  # noqa: F401
from fundapp.health import WorkerHeartbeat  # noqa: F401
from fundapp.ledger.models import Account, ClosedPeriod, FundTransfer, JournalEntry, Posting  # noqa: F401
from fundapp.mail import OutboxMessage  # noqa: F401
from fundapp.review.models import Approval, CaseNote, CaseReviewer, GrantPayment, Relationship  # noqa: F401
