"""The treasurer's forms for the books: closing and reopening a month."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from fundapp.web import amounts_valid

if TYPE_CHECKING:
    from fundapp.ledger.mapping import Mapped

MONTH_RULES = [DataRequired(), Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", message=_l("Write a month as YYYY-MM, for example 2026-10."))]


class CloseMonthForm(FlaskForm):
    month = StringField(_l("Month to close"), validators=MONTH_RULES,
                        description=_l("YYYY-MM. No entry can be dated in a closed month until it is reopened."),
                        render_kw={"type": "month", "placeholder": "2026-10"})
    not_reconciled_ok = BooleanField(_l("Close it even though its bank statement is not reconciled"))
    submit = SubmitField(_l("Close the month"))


class ReopenMonthForm(FlaskForm):
    month = StringField(_l("Month to reopen"), validators=MONTH_RULES, render_kw={"type": "month"})
    reason = TextAreaField(_l("Why it is reopened"), validators=[DataRequired(), Length(max=500)],
                           description=_l("Kept in the audit trail, with your name."))
    submit = SubmitField(_l("Reopen the month"))


class AccountMappingForm(FlaskForm):
    """Two inputs per account of the fund (``qb_<id>``, ``xero_<id>``), added by ``for_accounts``: a form checks
    lengths; ``mapping.update_account_mappings`` checks what QuickBooks and Xero take."""

    submit = SubmitField(_l("Save the mapping"))

    @classmethod
    def for_accounts(cls, mapped: Sequence[Mapped], **kwargs: Any) -> AccountMappingForm:
        """A form with the fields of ``mapped`` (``mapping.account_mappings``), filled with their mapping."""
        fields: dict[str, Any] = {}
        for m in mapped:
            fields[f"qb_{m.account_id}"] = StringField(
                _l("%(account)s in QuickBooks Online", account=m.account), validators=[Length(max=100)],
                default=m.quickbooks)
            fields[f"xero_{m.account_id}"] = StringField(
                _l("%(account)s in Xero (account code)", account=m.account), validators=[Length(max=10)],
                default=m.xero)
        form_class = type("AccountMappingFormFor", (cls,), fields)
        form: AccountMappingForm = form_class(**kwargs)
        form.mapped = mapped
        return form

    def values(self) -> dict[str, tuple[str, str]]:
        return {m.account: (self[f"qb_{m.account_id}"].data or "", self[f"xero_{m.account_id}"].data or "")
                for m in self.mapped}


class TransferForm(FlaskForm):
    """The giving fund's treasurer proposes money for another fund of the installation."""

    to_fund = SelectField(_l("Give to"), choices=[], validators=[DataRequired()])
    amount = StringField(_l("Amount (US dollars)"), validators=[DataRequired()])
    memo = StringField(_l("Why the money moves"), validators=[DataRequired(), Length(max=300)],
                       description=_l("Both funds' trustees read it before approving; it goes in both funds' books."))
    submit = SubmitField(_l("Propose the transfer"))

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        return amounts_valid(self, ("amount",)) and valid
