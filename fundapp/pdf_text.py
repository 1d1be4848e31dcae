"""Words the PDFs (``reports/``) take from the app's catalogue, so the Spanish translation covers them.

``reports/`` knows neither Flask nor Babel: it draws whatever words it is handed. Here they are
looked up with gettext in the document's language (needs an app context).
"""
from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from reports.style import PageWords

LANGUAGES = ("en", "es")


def page_words(language: str) -> PageWords:
    """Every page's footer ("generated <stamp>", "page N of M") in ``language`` (English if not offered)."""
    with force_locale(language if language in LANGUAGES else "en"):
        return PageWords(generated=_("generated %(stamp)s", stamp="{stamp}"),
                         page=_("page %(number)s of %(total)s", number="{number}", total="{total}"))
