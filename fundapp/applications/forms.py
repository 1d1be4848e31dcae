"""The application form and the member's answer: they check shape; services enforce the rules."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, IntegerField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from fundapp.accounts.forms import MultiCheckboxField
from fundapp.money import InvalidAmount, parse_amount
from fundapp.web import amounts_valid


class ApplicationForm(FlaskForm):
    category = SelectField(_l("What is the help for?"), choices=[])
    amount = StringField(_l("How much do you need? (US dollars)"), validators=[Optional(), Length(max=20)],
                         render_kw={"inputmode": "decimal"})
    household_size = IntegerField(_l("How many people live in your household, you included?"),
                                  validators=[Optional(), NumberRange(1, 30)], render_kw={"inputmode": "numeric"})
    household_members = StringField(_l("Their first names (optional)"), validators=[Optional(), Length(max=500)])
    address = StringField(_l("Your home address"), validators=[Optional(), Length(max=300)],
                          render_kw={"autocomplete": "street-address"})
    phone = StringField(_l("A phone number the trustees can call (optional)"), validators=[Optional(), Length(max=40)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    payee_kind = RadioField(_l("Who should be paid?"), default="member", choices=[
        SelectChoice("member", _l("Me")), SelectChoice("landlord", _l("My landlord or mortgage lender")),
        SelectChoice("utility", _l("A utility company")), SelectChoice("provider", _l("Another provider"))])
    payee_name = StringField(_l("Their name"), validators=[Optional(), Length(max=200)],
                             description=_l("Only if someone other than you should be paid."))
    payee_details = StringField(_l("How to pay them (address, account or reference number)"),
                                validators=[Optional(), Length(max=300)])
    need = TextAreaField(_l("What is the money for?"), validators=[Optional(), Length(max=2000)],
                         description=_l("A few sentences are enough. The trustees keep it private."))
    documents = MultipleFileField(_l("Documents (PDF, JPEG or PNG photos)"),
                                  description=_l("For example the lease, the bill or the prescription. You can add "
                                                 "more later."),
                                  render_kw={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"})
    attested = BooleanField(_l("What I wrote is true, and I will give back any grant made on false information."))
    save = SubmitField(_l("Save and finish later"))
    submit = SubmitField(_l("Send my application"))

    def amount_cents(self) -> int:
        return parse_amount(self.amount.data) if (self.amount.data or "").strip() else 0

    def validate_amount(self, field):
        if (field.data or "").strip():
            try:
                parse_amount(field.data)
            except InvalidAmount as exc:
                raise ValidationError(str(exc)) from exc


class AnswerForm(FlaskForm):
    body = TextAreaField(_l("Your answer"), validators=[Length(max=5000)])
    documents = MultipleFileField(_l("Documents (optional)"),
                                  render_kw={"accept": ".pdf,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png"})
    submit = SubmitField(_l("Send my answer"))


class RulesForm(FlaskForm):
    categories = MultiCheckboxField(_l("Kinds of need the fund helps with"), choices=[])
    strike_cap = StringField(_l("Cap per member for the whole strike (US dollars)"), validators=[DataRequired()])
    weekly_cap = StringField(_l("Cap per member in any 7 days"), validators=[DataRequired()])
    category_cap = StringField(_l("Cap per member for each kind of need"), validators=[DataRequired()])
    one_open_application = BooleanField(_l("One open application per member at a time"))
    dual_approval_above = StringField(_l("Grants above this amount need more than one trustee"),
                                      validators=[DataRequired()])
    approvals_needed = IntegerField(_l("How many trustees must approve those"), validators=[NumberRange(1, 5)])
    reserve = StringField(_l("Reserve: money kept back, never granted"), validators=[DataRequired()])
    submit = SubmitField(_l("Save as a new version of the rules"))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return amounts_valid(self, ("strike_cap", "weekly_cap", "category_cap", "dual_approval_above", "reserve")) \
            and valid

    def cents(self, name: str) -> int:
        return parse_amount(getattr(self, name).data)
