"""The treasurer's fund settings form: it checks shape; ``update_fund_settings`` enforces the rules."""
from __future__ import annotations

from babel.dates import get_month_names
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp

from fundapp.money import parse_amount
from fundapp.web import amounts_valid


class FundSettingsForm(FlaskForm):
    name = StringField(_l("Name of the fund"), validators=[DataRequired(), Length(max=200)])
    legal_name = StringField(_l("Legal name (printed on receipts)"), validators=[DataRequired(), Length(max=200)])
    ein = StringField(_l("EIN (Employer Identification Number)"),
                      validators=[DataRequired(), Regexp(r"^\d{2}-\d{7}$", message=_l(
                          "Enter the EIN as two digits, a hyphen and seven digits (12-3456789)."))],
                      description=_l("As on the IRS letter: 12-3456789."))
    legal_form = RadioField(_l("Legal form"), choices=[
        SelectChoice("501(c)(5)", _l("501(c)(5): a labor organization (gifts are not deductible as charitable "
                                     "contributions)")),
        SelectChoice("501(c)(3)", _l("501(c)(3): a charity (gifts are deductible)")),
        SelectChoice("other", _l("Another legal form")),
    ], validators=[DataRequired()])
    legal_form_wording = TextAreaField(_l("For another legal form: what receipts say about deductibility"),
                                       validators=[Length(max=1000)])
    postal_address = TextAreaField(_l("Postal address (printed on receipts)"), validators=[Length(max=500)])
    contact_email = EmailField(_l("Contact email (printed on receipts)"), validators=[DataRequired(), Length(max=254)])
    goal = StringField(_l("Fundraising goal (US dollars)"), validators=[DataRequired()])
    reserve = StringField(_l("Reserve: money kept back, never granted"), validators=[DataRequired()],
                          description=_l("Part of the rules for grants: a change here saves a new version of them."))
    time_zone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)],
                            description=_l("An IANA time zone name, such as America/Los_Angeles or America/New_York."))
    fiscal_year_start_month = SelectField(_l("The fiscal year starts in"), coerce=int)
    signatory_name = StringField(_l("Name of the person who signs receipts"), validators=[Length(max=200)])
    signatory_title = StringField(_l("Their title"), validators=[Length(max=200)])
    submit = SubmitField(_l("Save the fund's settings"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = get_month_names("wide", locale=get_locale())
        self.fiscal_year_start_month.choices = [SelectChoice(month, names[month].capitalize())
                                                for month in range(1, 13)]

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return amounts_valid(self, ("goal", "reserve")) and valid

    def values(self) -> dict:
        """The settings as ``update_fund_settings`` takes them."""
        return {
            "name": self.name.data, "legal_name": self.legal_name.data, "ein": self.ein.data.strip(),
            "legal_form": self.legal_form.data, "legal_form_wording": self.legal_form_wording.data or "",
            "postal_address": self.postal_address.data or "", "contact_email": self.contact_email.data,
            "goal_cents": parse_amount(self.goal.data), "reserve_cents": parse_amount(self.reserve.data),
            "time_zone": self.time_zone.data, "fiscal_year_start_month": self.fiscal_year_start_month.data,
            "signatory_name": self.signatory_name.data or "", "signatory_title": self.signatory_title.data or "",
        }


class FundLifeForm(FlaskForm):
    status = RadioField(_l("The fund is"), choices=[
        SelectChoice("open", _l("Open: taking gifts and applications")),
        SelectChoice("paused", _l("Applications paused: the strike is over; grants already asked for are still "
                                  "decided and paid, and gifts still come in")),
        SelectChoice("closed", _l("Closed: no new gifts either (every monthly gift is ended); the books stay "
                                  "readable")),
    ], validators=[DataRequired()])
    successor = SelectField(_l("Once closed, send givers to"), choices=[])
    submit = SubmitField(_l("Save"))
