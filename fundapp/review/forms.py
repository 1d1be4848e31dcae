"""The trustees' forms. The templates write the inputs by hand (a case page holds several small forms); these
classes read and parse them, so a view receives cents and dates, never raw text. Rules about what may be
decided (recusal, caps, what is owed, the second factor) stay in the services, which say why they refuse."""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, StringField
from wtforms.fields import SelectMultipleField

from fundapp.money import InvalidAmount, parse_amount


class MoneyField(Field):
    """An amount typed by a person ("850", "$1,000.50"), parsed to integer cents (``money.parse_amount``);
    what cannot be read is the parser's own message."""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "") or ""
        try:
            self.data = parse_amount(self.raw)
        except InvalidAmount as exc:
            self.data = None
            raise ValueError(str(exc)) from exc


class DayField(StringField):
    """A date as the browser's date input sends it (YYYY-MM-DD)."""

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "").strip()
        try:
            self.data = date.fromisoformat(text)
        except ValueError as exc:
            self.data = None
            raise ValueError(_l("Enter the date as year-month-day, for example 2026-11-30.")) from exc


class NoteForm(FlaskForm):
    note = StringField()
    sealed = BooleanField(false_values=("", "n", "false"))


class QuestionForm(FlaskForm):
    body = StringField()


class ApproveForm(FlaskForm):
    amount = MoneyField()
    note = StringField()
    criteria = StringField()


class DenyForm(FlaskForm):
    reason = StringField()
    note = StringField()


class _Paying(FlaskForm):
    method = StringField()
    reference = StringField()
    paid_on = DayField()
    code = StringField()


class PaymentForm(_Paying):
    amount = MoneyField()


class BatchForm(_Paying):
    grants = SelectMultipleField(coerce=str, validate_choice=False)

    def grant_ids(self) -> set[int]:
        return {int(i) for i in (self.grants.data or []) if str(i).isdigit()}


class VoidForm(FlaskForm):
    reason = StringField()


class RelationshipForm(FlaskForm):
    member_id = StringField()
    relation = StringField()


def first_error(form: FlaskForm) -> str | None:
    """The first thing wrong with what was sent, as the person should read it; None when all is well."""
    for errors in form.errors.values():
        for error in errors:
            return str(error)
    return None
