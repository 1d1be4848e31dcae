"""Words the PDFs (``reports/``) take from the app's catalogue, so the Spanish translation covers them.

``reports/`` knows neither Flask nor Babel: it draws whatever words it is handed. Here they are
looked up with gettext in the document's language (needs an app context). The English msgids are the
``reports/`` defaults word for word (a test holds them equal); ``{...}`` placeholders are filled in there.
"""
from __future__ import annotations

from flask_babel import force_locale, pgettext
from flask_babel import gettext as _

from reports.grants import AwardWords
from reports.receipt import ReceiptWords
from reports.statement import StatementWords
from reports.style import PageWords

LANGUAGES = ("en", "es")


def _offered(language: str | None) -> str:
    return language if language in LANGUAGES else "en"


def page_words(language: str) -> PageWords:
    """Every page's footer ("generated <stamp>", "page N of M") in ``language`` (English if not offered)."""
    with force_locale(_offered(language)):
        return PageWords(generated=_("generated %(stamp)s", stamp="{stamp}"),
                         page=_("page %(number)s of %(total)s", number="{number}", total="{total}"))


def _receipt_words() -> ReceiptWords:
    return ReceiptWords(
        title=_("Receipt for your gift"),
        corrected=_("Corrected receipt (a refund was made)"),
        corrected_dispute=_("Corrected receipt (a card dispute was lost)"),
        disputed=_("Disputed and lost: not received"),
        number=_("Receipt number"),
        donor=_("Donor"),
        date=_("Date of the gift"),
        amount=_("Amount of the gift"),
        refunded=_("Refunded to you"),
        contribution=_("Contribution"),
        method=_("Paid by"),
        monthly=_("monthly gift"),
        honor=_("In honor of"),
        memory=_("In memory of"),
        card=_("card (Stripe)"),
        cheque=pgettext("paid by", "cheque"),
        cash=pgettext("paid by", "cash"),
        no_goods=_("No goods or services were provided in exchange for this contribution."),
        c3=_("%(legal)s is exempt from federal income tax under section 501(c)(3) of the Internal Revenue Code "
             "(EIN %(ein)s). Your contribution is tax-deductible to the extent allowed by law.",
             legal="{legal}", ein="{ein}"),
        c5=_("%(legal)s is a labor organization exempt under section 501(c)(5) of the Internal Revenue Code "
             "(EIN %(ein)s). Contributions to it are not deductible as charitable contributions for federal "
             "income tax purposes.", legal="{legal}", ein="{ein}"),
        other=_("%(legal)s (EIN %(ein)s). Ask your tax adviser whether this contribution is deductible.",
                legal="{legal}", ein="{ein}"),
        thanks=_("Thank you. Your gift goes to the fund, which pays emergency grants to striking workers "
                 "decided by trustees under published rules."),
        questions=_("Questions: %(email)s", email="{email}"),
        signed=_("For %(legal)s: %(signatory)s", legal="{legal}", signatory="{signatory}"),
        period=_("Gift of %(date)s", date="{date}"),
    )


def receipt_words(language: str | None) -> ReceiptWords:
    """A receipt's words (and the deductibility sentence solicitations repeat) in ``language``."""
    with force_locale(_offered(language)):
        return _receipt_words()


def statement_words(language: str | None) -> StatementWords:
    """A donor's year statement's words in ``language``, with the receipt's sentences it repeats."""
    with force_locale(_offered(language)):
        return StatementWords(
            title=_("Your gifts in %(year)s", year="{year}"),
            intro=_("Thank you, %(name)s. These are your gifts to %(legal)s in %(year)s.",
                    name="{name}", legal="{legal}", year="{year}"),
            date=_("Date"),
            receipt_number=_("Receipt"),
            gift=_("Gift"),
            refunded=pgettext("amount", "Refunded"),
            contribution=_("Contribution"),
            disputed=_("Disputed and lost"),
            total=_("Total"),
            period=_("Year %(year)s", year="{year}"),
            receipt=_receipt_words(),
        )


def award_words(language: str | None) -> AwardWords:
    """An award letter's words in the member's ``language``."""
    with force_locale(_offered(language)):
        return AwardWords(
            title=_("Your hardship grant"),
            dear=_("Dear %(name)s,", name="{name}"),
            body=_("The trustees of %(legal)s approved a grant of %(amount)s for %(purpose)s (application #%(case)s).",
                   legal="{legal}", amount="{amount}", purpose="{purpose}", case="{case}"),
            partial=_("You asked for %(asked)s. %(note)s", asked="{asked}", note="{note}"),
            payee=_("To be paid to %(payee)s.", payee="{payee}"),
            paid=_("Paid to %(payee)s.", payee="{payee}"),
            part_paid=_("Paid to %(payee)s so far: %(paid)s. The rest, %(rest)s, is to be paid to %(payee)s.",
                        payee="{payee}", paid="{paid}", rest="{rest}"),
            close=_("In solidarity, the trustees of %(fund)s", fund="{fund}"),
            signed=_("For %(legal)s: %(signatory)s", legal="{legal}", signatory="{signatory}"),
        )
