"""The donate form and local mode's test checkout: they check shape; services enforce the rules."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

PRESETS = (1000, 2500, 5000, 10000, 25000)


def amount_choices():
    return [SelectChoice(str(cents), f"${cents // 100}") for cents in PRESETS] + [
        SelectChoice("other", _l("Another amount"))]


class DonateForm(FlaskForm):
    amount = RadioField(_l("Amount"), choices=amount_choices, default="2500",
                        validators=[DataRequired(_l("Choose an amount."))])
    other_amount = StringField(_l("Another amount (US dollars)"), validators=[Optional(), Length(max=20)],
                               render_kw={"inputmode": "decimal", "autocomplete": "transaction-amount"})
    frequency = RadioField(_l("How often"), default="one_time", choices=[
        SelectChoice("one_time", _l("Once")), SelectChoice("monthly", _l("Every month, until I stop it"))])
    cover_fee = BooleanField(_l("Add the card fee, so the fund receives my whole gift"))
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("Email address"), validators=[DataRequired(), Email(_l("Enter a valid email address.")),
                                                        Length(max=254)],
                       description=_l("For your receipt. We never share it."), render_kw={"autocomplete": "email"})
    anonymous = BooleanField(_l("Keep my name off public pages"))
    on_wall = BooleanField(_l("Show my gift on the donor wall (after a check by the fund)"))
    wall_message = TextAreaField(_l("A short message for the strikers (optional)"),
                                 validators=[Optional(), Length(max=200)])
    dedication_kind = SelectField(_l("Dedicate this gift"), default="", choices=[
        SelectChoice("", _l("No dedication")), SelectChoice("honor", _l("In honour of someone")),
        SelectChoice("memory", _l("In memory of someone")), SelectChoice("striker", _l("To a particular striker"))])
    dedication_name = StringField(_l("Their name"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Continue to payment"))


class TestCardForm(FlaskForm):
    card_number = StringField(_l("Card number"), validators=[
        DataRequired(), Regexp(r"^[\d ]{12,23}$", message=_l("Enter the card number in digits."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    expiry = StringField(_l("Expiry (MM/YY)"), default="12/34", validators=[
        DataRequired(), Regexp(r"^(0[1-9]|1[0-2])/\d\d$", message=_l("Write the expiry as MM/YY."))])
    cvc = StringField(_l("CVC"), default="123", validators=[
        DataRequired(), Regexp(r"^\d{3,4}$", message=_l("Three or four digits."))])
    submit = SubmitField(_l("Pay (test mode)"))
