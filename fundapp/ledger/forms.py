"""The treasurer's forms for the books: closing and reopening a month."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

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
