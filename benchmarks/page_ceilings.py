"""The pages' ceilings for ``make bench`` (issue 22, item 4): what the bare stack costs for the same page.

    gunicorn --chdir benchmarks page_ceilings:app    (bench.py serves it as it serves ours)

- ``/donate``: Flask, Jinja, WTForms and Flask-WTF's CSRF protection, with a form of the same fields,
  choices and validators as ``fundapp.donations.forms.DonateForm``, rendered by a template of the same
  layout and size (the same field macro, header, navigation and footer), on every request. No database,
  no translations, no money formatting: the amounts are written out.
- ``/review/``: the review queue's page with the same 50-row table (the same columns and markup), every
  value worked out once here, at import; no sign-in check, no database.

Both pages call ``csrf_token()`` in the header as ours do, so each answer sets the session cookie as ours
does; the secret is ``SECRET_KEY`` from the environment, as ours, so the trustee's cookie reads the same.
The figure is a ceiling: what the page would cost with nothing of fundapp's own in the way.
"""
from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from flask import Flask, redirect, render_template
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from jinja2 import DictLoader
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

BASE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{% block title %}{% endblock %} · Strike Hardship Fund</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/site.css">
</head>
<body>
  <a class="skip" href="#main">Skip to content</a>
  <header class="site-header">
    <div class="wrap header-row">
      <a class="brand" href="/">Strike Hardship Fund</a>
      <form class="lang" method="post" action="/language">
        <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
        <input type="hidden" name="next" value="{{ request.path }}">
        <button type="submit" name="language" value="es" lang="es">Español</button>
      </form>
    </div>
    <nav class="wrap" aria-label="Main">
      <ul class="nav">
        <li><a href="/">Home</a></li>
        {% if signed_in %}
          <li><a href="/review/">Review</a></li>
          <li><a href="/review/dashboard">Dashboard</a></li>
          <li><a href="/audit/">Audit trail</a></li>
          <li><a href="/account">My account</a></li>
          <li>
            <form method="post" action="/logout" class="inline">
              <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
              <button type="submit" class="link">Sign out</button>
            </form>
          </li>
        {% else %}
          <li><a href="/login">Sign in</a></li>
          <li><a href="/register">Striking member? Create an account</a></li>
        {% endif %}
      </ul>
    </nav>
  </header>
  <main id="main" class="wrap">
    {% with messages = get_flashed_messages(with_categories=true) %}
      {% if messages %}
        <div class="flashes">
        {% for category, message in messages %}<p class="flash flash-{{ category }}">{{ message }}</p>{% endfor %}
        </div>
      {% endif %}
    {% endwith %}
    {% block content %}{% endblock %}
  </main>
  <footer class="site-footer wrap">
    <p>Strike Hardship Fund · <a href="/about">About the fund</a> · <a href="/transparency">Where the money goes</a> · <a href="/donate">Give</a> · <a href="/donor/login">Your gifts and receipts</a></p>
  </footer>
</body>
</html>
"""

#: fundapp's field macro (templates/_form.html), as the donate page uses it.
FORM = """{% macro field(f, class_="") %}
  {% set described = [] %}
  {% if f.description %}{% set _ = described.append(f.id ~ '-help') %}{% endif %}
  {% if f.errors %}{% set _ = described.append(f.id ~ '-error') %}{% endif %}
  <div class="field {{ class_ }}{% if f.errors %} has-error{% endif %}">
    {% if f.type == 'BooleanField' %}
      <label class="check">{{ f(**({'aria-describedby': described|join(' ')} if described else {})) }} {{ f.label.text }}</label>
    {% elif f.type == 'RadioField' %}
      <fieldset{% if described %} aria-describedby="{{ described|join(' ') }}"{% endif %}>
        <legend>{{ f.label.text }}</legend>
        <div class="choices">
        {% for option in f %}<label class="choice">{{ option() }} <span>{{ option.label.text }}</span></label>{% endfor %}
        </div>
      </fieldset>
    {% else %}
      {{ f.label() }}
      {{ f(**({'aria-describedby': described|join(' '), 'aria-invalid': 'true' if f.errors else 'false'} if described else {})) }}
    {% endif %}
    {% if f.description %}<p class="help" id="{{ f.id }}-help">{{ f.description }}</p>{% endif %}
    {% if f.errors %}
      <p class="error" id="{{ f.id }}-error">{% for e in f.errors %}{{ e }}{% if not loop.last %} {% endif %}{% endfor %}</p>
    {% endif %}
  </div>
{% endmacro %}
"""

DONATE = """{% extends "base.html" %}
{% from "_form.html" import field %}
{% block title %}Give to the strike fund{% endblock %}
{% block content %}
<h1>Give to the strike fund</h1>
<p class="lead">Your gift pays emergency grants to striking workers who cannot cover rent, utilities, medicine or childcare.</p>
<p class="tax-statement" id="tax-statement"><strong>{{ tax_statement }}</strong></p>
{% if form.errors %}<div class="flash flash-error" role="alert"><p>Please check the form: something needs fixing.</p></div>{% endif %}
<form method="post" novalidate class="stack donate">
  {{ form.csrf_token }}
  {{ field(form.amount, "amounts") }}
  {{ field(form.other_amount) }}
  {{ field(form.frequency) }}
  {{ field(form.cover_fee) }}
  <p class="help">Card processing costs the fund about 2.9% plus 30 cents a gift. Covering it adds {{ fee_example }} to a $25.00 gift; the checkout shows the exact total before you pay.</p>
  {{ field(form.name) }}
  {{ field(form.email) }}
  {{ field(form.anonymous) }}
  {{ field(form.on_wall) }}
  {{ field(form.wall_message) }}
  {{ field(form.dedication_kind) }}
  {{ field(form.dedication_name) }}
  <p class="help">Gifts go to the fund, never to one person. Trustees elected by the members decide every grant under published rules.</p>
  {{ form.submit(class_="button") }}
</form>
{% endblock %}
"""

QUEUE = """{% extends "base.html" %}
{% block title %}Applications to decide{% endblock %}
{% block content %}
<h1>Applications to decide</h1>
<p><a href="/review/dashboard">Dashboard</a> · <a href="/review/payments">Grants to pay</a> · <a href="/review/relationships">My relationships with members</a></p>
<ul class="stats"><li><span class="num">{{ available }}</span> available to grant now</li></ul>
<details class="filters">
<summary>Filter the applications</summary>
<form method="get" class="stack filters" role="search" aria-label="Filter the applications">
  <div class="field"><label for="status">Status</label>
    <select id="status" name="status"><option value="">Waiting for a decision</option>
      {% for value, name in statuses %}<option value="{{ value }}">{{ name }}</option>{% endfor %}
    </select></div>
  <div class="field"><label for="category">What for</label>
    <input type="text" id="category" name="category" value="" placeholder="rent"></div>
  <div class="field"><label for="q">Member (name or number)</label>
    <input type="text" id="q" name="q" value=""></div>
  <div class="field"><label for="worksite">Worksite</label>
    <input type="text" id="worksite" name="worksite" value=""></div>
  <div class="field"><label for="min">Amount from</label>
    <input type="text" id="min" name="min" inputmode="decimal" value=""></div>
  <div class="field"><label for="max">Amount up to</label>
    <input type="text" id="max" name="max" inputmode="decimal" value=""></div>
  <div class="field"><label class="check"><input type="checkbox" name="flagged" value="1"> Only flagged</label></div>
  <div class="field"><label class="check"><input type="checkbox" name="mine" value="1"> Only those waiting for my approval</label></div>
  <p><button type="submit">Filter</button></p>
</form>
</details>
<div class="table-wrap">
<table class="audit">
  <caption>Oldest first</caption>
  <thead><tr><th scope="col">#</th><th scope="col">Member</th><th scope="col">What for</th>
    <th scope="col">Amount</th><th scope="col">Granted before</th><th scope="col">Waiting</th><th scope="col">Flags</th><th scope="col">Status</th></tr></thead>
  <tbody>
  {% for c in cases %}
    <tr>
      <td data-label="#"><a href="{{ c.href }}">#{{ c.id }}</a></td>
      <td data-label="Member">{{ c.member }}</td>
      <td data-label="What for">{{ c.what }}</td>
      <td data-label="Amount">{{ c.amount }}</td>
      <td data-label="Granted before"><div>{{ c.granted }}
        <div class="help">{{ c.left }} left of the {{ c.cap }} strike cap</div>
        {% if c.over_cap %}<strong>Over a cap</strong>{% endif %}</div></td>
      <td data-label="Waiting">{{ c.waiting }}</td>
      <td data-label="Flags">{% if c.flags %}<strong>{{ c.flags }}</strong>{% else %}—{% endif %}</td>
      <td data-label="Status"><div>{{ c.status }}{% if c.approvals %}
        <div><strong>{{ c.approvals }}</strong></div>{% endif %}</div></td>
    </tr>
  {% endfor %}
  </tbody>
</table>
</div>
{% endblock %}
"""

#: The review queue's 50 cases as bench.py makes them (application n+1 for member n), worked out once.
CASES = [{"id": n + 1, "href": f"/review/{n + 1}", "member": f"Member {n} (B-{n}) · North", "what": "Rent or mortgage",
          "amount": f"${100 + n / 100:,.2f}", "granted": "$0.00", "left": "$1,500.00", "cap": "$1,500.00",
          "over_cap": False, "waiting": "0 days", "flags": "", "status": "Submitted", "approvals": ""}
         for n in range(50)]
STATUSES = [("submitted", "Submitted"), ("in_review", "In review"), ("info_requested", "Question asked"),
            ("approved", "Approved"), ("partially_approved", "Approved in part"), ("denied", "Denied"),
            ("paid", "Paid"), ("withdrawn", "Withdrawn")]
TAX_STATEMENT = ("Local 1 Strike Hardship Fund is a labor organization exempt under section 501(c)(5) of the Internal "
                 "Revenue Code (EIN 00-0000000). Contributions to it are not deductible as charitable contributions "
                 "for federal income tax purposes.")


class DonateForm(FlaskForm):
    """fundapp's donate form, field for field, with its labels written out (no translations)."""

    amount = RadioField("Amount", default="2500", validators=[DataRequired("Choose an amount.")], choices=[
        ("1000", "$10.00"), ("2500", "$25.00"), ("5000", "$50.00"), ("10000", "$100.00"), ("25000", "$250.00"),
        ("other", "Another amount")])
    other_amount = StringField("Another amount (US dollars)", validators=[Optional(), Length(max=20)],
                               render_kw={"inputmode": "decimal", "autocomplete": "transaction-amount"})
    frequency = RadioField("How often", default="one_time", choices=[
        ("one_time", "Once"), ("monthly", "Every month, until I stop it")])
    cover_fee = BooleanField("Add the card fee, so the fund receives my whole gift")
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)], render_kw={"autocomplete": "name"})
    email = EmailField("Email address", validators=[DataRequired(), Email("Enter a valid email address."),
                                                    Length(max=254)],
                       description="For your receipt. We never share it.", render_kw={"autocomplete": "email"})
    anonymous = BooleanField("Keep my name off public pages")
    on_wall = BooleanField("Show my gift on the donor wall (after a check by the fund)",
                           description="With your name kept off public pages, the wall says \"Anonymous\".")
    wall_message = TextAreaField("A short message for the strikers (optional)", validators=[Optional(), Length(max=200)])
    dedication_kind = SelectField("Dedicate this gift", default="", choices=[
        ("", "No dedication"), ("honor", "In honor of someone"), ("memory", "In memory of someone"),
        ("striker", "To a particular striker")], description="Gifts go to the whole fund, never to one person.")
    dedication_name = StringField("Their name (if you dedicate the gift)", validators=[Optional(), Length(max=200)])
    submit = SubmitField("Continue to payment")

    def validate_other_amount(self, field):
        if self.amount.data != "other":
            return
        try:
            if Decimal(field.data or "") <= 0:
                raise ValidationError("Enter an amount above zero.")
        except InvalidOperation as exc:
            raise ValidationError("Enter an amount in dollars and cents.") from exc

    def validate_dedication_kind(self, field):
        if field.data == "striker":
            raise ValidationError("Gifts go to the fund, not to one person.")


app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "the page ceilings' secret")
app.jinja_loader = DictLoader({"base.html": BASE, "_form.html": FORM, "donate.html": DONATE, "queue.html": QUEUE})
CSRFProtect(app)


@app.route("/donate", methods=["GET", "POST"])
def donate():
    form = DonateForm()
    if form.validate_on_submit():
        return redirect("/donate/test-checkout/ceiling")
    page = render_template("donate.html", form=form, signed_in=False, tax_statement=TAX_STATEMENT,
                           fee_example="$1.06")
    return page, 422 if form.errors else 200


@app.get("/review/")
def queue():
    return render_template("queue.html", cases=CASES, signed_in=True, available="$0.00", statuses=STATUSES)
