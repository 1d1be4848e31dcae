"""Forms of accounts and the roster: they check shape; services enforce the rules."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length
from wtforms.widgets import CheckboxInput, ListWidget

from fundapp.accounts.models import Role

LANGUAGE_CHOICES = [SelectChoice("en", "English", {"lang": "en"}), SelectChoice("es", "Español", {"lang": "es"})]


def role_choices():
    return [
        SelectChoice(Role.DONOR.value, _l("Donor")),
        SelectChoice(Role.APPLICANT.value, _l("Applicant (striking member)")),
        SelectChoice(Role.TRUSTEE.value, _l("Trustee")),
        SelectChoice(Role.TREASURER.value, _l("Treasurer")),
    ]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RegisterForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "name"})
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             description=_l("At least 10 characters. A few words you remember work well."),
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Password again"),
                            validators=[DataRequired(), EqualTo("password", _l("The two passwords are not the same."))],
                            render_kw={"autocomplete": "new-password"})
    language = SelectField(_l("Language for messages"), choices=LANGUAGE_CHOICES, default="en")
    submit = SubmitField(_l("Create account"))


class LoginForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in on this device"))
    submit = SubmitField(_l("Sign in"))


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "email"})
    submit = SubmitField(_l("Send me a link"))


class NewPasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)],
                             description=_l("At least 10 characters. A few words you remember work well."),
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(), EqualTo("password", _l("The two passwords are not the same."))],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Save the new password"))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)],
                            render_kw={"autocomplete": "current-password"})


class ProfileForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    language = SelectField(_l("Language for pages and messages"), choices=LANGUAGE_CHOICES)
    submit = SubmitField(_l("Save"))


class LinkMemberForm(FlaskForm):
    member_id = StringField(_l("Member number"), validators=[DataRequired(), Length(max=40)],
                            description=_l("As printed on your union card or dues statement."))
    last_name = StringField(_l("Last name"), validators=[DataRequired(), Length(max=100)],
                            render_kw={"autocomplete": "family-name"})
    phone_last4 = StringField(_l("Last 4 digits of your phone number"), validators=[Length(max=40)],
                              description=_l("The phone number the union has for you. Leave it empty if the union "
                                             "has no phone number for you."),
                              render_kw={"inputmode": "numeric", "autocomplete": "off"})
    submit = SubmitField(_l("Confirm my membership"))


class ConfirmRegistrationForm(FlaskForm):
    submit = SubmitField(_l("Finish creating my account"))


class ClaimDecisionForm(FlaskForm):
    submit_keep = SubmitField(_l("Keep the current link"))
    submit_move = SubmitField(_l("Give it to the new account"))


class NewUserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    roles = MultiCheckboxField(_l("Roles"), choices=role_choices, default=[Role.TRUSTEE.value],
                               validators=[DataRequired(_l("Choose at least one role."))])
    language = SelectField(_l("Language for messages"), choices=LANGUAGE_CHOICES, default="en")
    submit = SubmitField(_l("Create account and email a sign-in link"))


class UserAccessForm(FlaskForm):
    roles = MultiCheckboxField(_l("Roles"), choices=role_choices)
    active = BooleanField(_l("Can sign in"))
    submit = SubmitField(_l("Save"))


class RosterImportForm(FlaskForm):
    file = FileField(_l("Roster file (CSV)"), validators=[
        FileRequired(_l("Choose a CSV file.")),
        FileAllowed(["csv", "txt"], _l("The roster must be a .csv file.")),
    ])
    submit = SubmitField(_l("Import"))


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "off",
                                  "spellcheck": "false"})
    submit = SubmitField(_l("Continue"))
