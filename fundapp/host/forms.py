"""The host's forms: they check shape; ``setup.open_fund`` and ``filing.assign_event`` enforce the rules."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from fundapp.funds.forms import FundSettingsForm
from fundapp.money import parse_amount
from fundapp.web import amounts_valid


class OpenFundForm(FlaskForm):
    slug = StringField(_l("Short name, for the fund's address"), validators=[DataRequired(), Length(max=64)],
                       description=_l("Lower-case letters, digits and hyphens: the pages will be at /f/short-name/."))
    name = FundSettingsForm.name
    legal_name = FundSettingsForm.legal_name
    ein = FundSettingsForm.ein
    legal_form = RadioField(_l("Legal form"), choices=FundSettingsForm.legal_form.kwargs["choices"],
                            default="501(c)(5)", validators=[DataRequired()])
    contact_email = FundSettingsForm.contact_email
    goal = StringField(_l("Fundraising goal (US dollars)"), default="0", validators=[DataRequired()])
    treasurer_name = StringField(_l("The first treasurer's name"), validators=[DataRequired(), Length(max=200)])
    treasurer_email = EmailField(_l("The first treasurer's email"), validators=[DataRequired(), Length(max=254)],
                                 description=_l("Someone with an account here is given the role; anyone else gets "
                                                "an account and a link to choose a password."))
    submit = SubmitField(_l("Open the fund"))

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        return amounts_valid(self, ("goal",)) and valid

    def settings(self) -> dict:
        return {"slug": self.slug.data.strip(), "name": self.name.data, "legal_name": self.legal_name.data,
                "ein": self.ein.data.strip(), "legal_form": self.legal_form.data,
                "contact_email": self.contact_email.data, "goal_cents": parse_amount(self.goal.data)}


class AssignForm(FlaskForm):
    fund = SelectField(_l("File it under"), validators=[DataRequired()])
    submit = SubmitField(_l("Assign"))
