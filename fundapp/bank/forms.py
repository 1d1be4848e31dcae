"""The treasurer's forms for the bank: a statement's upload (with the CSV's layout), matching and booking a line."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from fundapp.bank.services import DATE_FORMATS
from fundapp.money import InvalidAmount, parse_amount

COLUMN = [Optional(), Length(max=100)]


class ImportStatementForm(FlaskForm):
    statement = FileField(_l("Statement file"), validators=[FileRequired(_l("Choose the statement file."))],
                          description=_l("OFX or QFX as the bank exports it, or CSV with a header row."))
    file_format = RadioField(_l("File type"), choices=[SelectChoice("ofx", _l("OFX or QFX")), SelectChoice("csv", "CSV")],
                             default="ofx")
    date_column = StringField(_l("CSV: the date column"), validators=COLUMN,
                              description=_l("The column's name as the header row writes it."))
    date_format = SelectField(_l("CSV: how dates are written"),
                              choices=[SelectChoice(pattern, example) for pattern, example in DATE_FORMATS.items()],
                              default="%Y-%m-%d")
    description_column = StringField(_l("CSV: the description column"), validators=COLUMN)
    amount_column = StringField(_l("CSV: the amount column"), validators=COLUMN,
                                description=_l("Money in positive, money out negative. Leave it empty if the bank "
                                               "writes debits and credits in two columns."))
    debit_column = StringField(_l("CSV: the debit (money out) column"), validators=COLUMN)
    credit_column = StringField(_l("CSV: the credit (money in) column"), validators=COLUMN)
    reference_column = StringField(_l("CSV: the reference or cheque number column"), validators=COLUMN)
    ending_balance = StringField(_l("CSV: the statement's ending balance"), validators=[Optional(), Length(max=30)],
                                 description=_l("As printed on the statement. OFX files carry it themselves."))
    statement_start = DateField(_l("CSV: the statement's first day"), validators=[Optional()],
                                description=_l("As printed on the statement (the first line's day if empty). "
                                               "Bank entries in the books before a first statement are taken "
                                               "as through the bank already."))
    statement_end = DateField(_l("CSV: the statement's last day"), validators=[Optional()],
                              description=_l("The day the ending balance is at (the last line's day if empty)."))
    submit = SubmitField(_l("Import the statement"))

    def validate_ending_balance(self, field) -> None:
        if (field.data or "").strip():
            try:
                self.ending_balance_cents()
            except InvalidAmount as exc:
                raise ValidationError(str(exc)) from exc

    def ending_balance_cents(self) -> int | None:
        """The typed balance in cents (it may be negative: an overdrawn account), or None when left empty."""
        text = (self.ending_balance.data or "").strip()
        if not text:
            return None
        return -parse_amount(text[1:]) if text.startswith("-") else parse_amount(text)


class LineActionForm(FlaskForm):
    """Match, split, book or unmatch one line: only the CSRF token is a field. The postings chosen come as
    ``posting`` values and the kind booked as ``kind`` (the page's checkboxes and select, checked by the service)."""
