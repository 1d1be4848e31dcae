"""The donate form and local mode's test checkout: they check shape; services enforce the rules."""
from __future__ import annotations

from babel.numbers import get_currency_name
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp, ValidationError

from fundapp.money import InvalidAmount, display_locale, format_cents, parse_amount

PRESETS = (1000, 2500, 5000, 10000, 25000)


def amount_choices(currency: str = "USD"):
    """The preset buttons, each amount in the fund's currency and the page's language."""
    locale = display_locale(str(get_locale() or "en"))
    return [SelectChoice(str(cents), format_cents(cents, currency, locale)) for cents in PRESETS] + [
        SelectChoice("other", _l("Another amount"))]


class DonateForm(FlaskForm):
    amount = RadioField(_l("Amount"), choices=amount_choices, default="2500",
                        validators=[DataRequired(_l("Choose an amount."))])
    other_amount = StringField(_l("Another amount"), validators=[Optional(), Length(max=20)],
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
    on_wall = BooleanField(_l("Show my gift on the donor wall (after a check by the fund)"),
                           description=_l("With your name kept off public pages, the wall says \"Anonymous\"."))
    wall_message = TextAreaField(_l("A short message for the strikers (optional)"),
                                 validators=[Optional(), Length(max=200)])
    dedication_kind = SelectField(_l("Dedicate this gift"), default="", choices=[
        SelectChoice("", _l("No dedication")), SelectChoice("honor", _l("In honor of someone")),
        SelectChoice("memory", _l("In memory of someone")), SelectChoice("striker", _l("To a particular striker"))],
        description=_l("Gifts go to the whole fund, never to one person."))
    dedication_name = StringField(_l("Their name (if you dedicate the gift)"), validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Continue to payment"))

    def __init__(self, *args, currency: str = "USD", **kwargs):
        super().__init__(*args, **kwargs)
        self.amount.choices = amount_choices(currency)
        name = get_currency_name(currency, count=2, locale=display_locale(str(get_locale() or "en")))
        self.other_amount.label.text = _("Another amount (%(currency)s)", currency=name)

    def amount_cents(self) -> int:
        """The gift in cents: a preset, or the other amount (already checked by ``validate_other_amount``)."""
        return parse_amount(self.other_amount.data) if self.amount.data == "other" else int(self.amount.data)

    def validate_other_amount(self, field):
        if self.amount.data != "other":
            return
        try:
            parse_amount(field.data or "")
        except InvalidAmount as exc:
            raise ValidationError(str(exc)) from exc

    def validate_dedication_kind(self, field):
        if field.data == "striker":
            raise ValidationError(_l(
                "Gifts go to the fund, not to one person: trustees elected by the members decide every grant "
                "under the fund's published rules, so help reaches whoever needs it most and no striker is "
                "singled out. Choose \"No dedication\" or dedicate the gift in honor of someone; if you know a "
                "striker in hardship, tell them they can apply."))


class TestCardForm(FlaskForm):
    card_number = StringField(_l("Card number"), validators=[
        DataRequired(), Regexp(r"^[\d ]{12,23}$", message=_l("Enter the card number in digits."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    expiry = StringField(_l("Expiry (MM/YY)"), default="12/34", validators=[
        DataRequired(), Regexp(r"^(0[1-9]|1[0-2])/\d\d$", message=_l("Write the expiry as MM/YY."))])
    cvc = StringField(_l("CVC"), default="123", validators=[
        DataRequired(), Regexp(r"^\d{3,4}$", message=_l("Three or four digits."))])
    #: Asked only for a large gift, as Checkout does (``billing_address_collection``).
    address_line1 = StringField(_l("Street address"), validators=[Optional(), Length(max=200)],
                                render_kw={"autocomplete": "address-line1"})
    address_city = StringField(_l("City"), validators=[Optional(), Length(max=100)],
                               render_kw={"autocomplete": "address-level2"})
    address_state = StringField(_l("State"), validators=[Optional(), Length(max=50)],
                                render_kw={"autocomplete": "address-level1"})
    address_postal_code = StringField(_l("ZIP code"), validators=[Optional(), Length(max=20)],
                                      render_kw={"autocomplete": "postal-code"})
    submit = SubmitField(_l("Pay (test mode)"))

    def billing_address(self) -> dict[str, str] | None:
        """The address as Stripe's billing details take it, or None when the street is left empty."""
        if not (self.address_line1.data or "").strip():
            return None
        return {"line1": self.address_line1.data.strip(), "city": (self.address_city.data or "").strip(),
                "state": (self.address_state.data or "").strip(),
                "postal_code": (self.address_postal_code.data or "").strip(), "country": "US"}


class OfflineGiftForm(FlaskForm):
    name = StringField(_l("Donor's name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Donor's email (optional, for the receipt)"),
                       validators=[Optional(), Email(_l("Enter a valid email address.")), Length(max=254)])
    amount = StringField(_l("Amount (US dollars)"), validators=[DataRequired(), Length(max=20)],
                         render_kw={"inputmode": "decimal"})
    received_on = DateField(_l("Date received"), validators=[DataRequired()])
    method = RadioField(_l("Paid by"), default="cheque", choices=[
        SelectChoice("cheque", _l("Cheque")), SelectChoice("cash", _l("Cash"))])
    reference = StringField(_l("Cheque number or other reference"), validators=[Optional(), Length(max=100)])
    postal_address = TextAreaField(_l("Donor's postal address"), validators=[Optional(), Length(max=500)],
                                   description=_l("Needed for a gift of $5,000 or more, with the donor's email: the "
                                                  "IRS asks for the name and address of each donor who gave that "
                                                  "much in a year (Form 990, Schedule B)."))
    anonymous = BooleanField(_l("Keep the donor's name off public pages"))
    submit = SubmitField(_l("Record the gift"))

    def validate_amount(self, field):
        try:
            parse_amount(field.data or "")
        except InvalidAmount as exc:
            raise ValidationError(str(exc)) from exc


class DepositForm(FlaskForm):
    deposited_on = DateField(_l("Date of the deposit"), validators=[DataRequired()])
    reference = StringField(_l("Deposit slip number (optional)"), validators=[Optional(), Length(max=100)])
    submit = SubmitField(_l("Record the deposit"))
