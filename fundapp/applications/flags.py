"""Duplicate and risk flags for trustees: hints to look closer, never automatic refusals.

A flag names what matches and the other members' applications it matches, so a
trustee can open them side by side. Comparisons are made on normalised text
(case, spacing, punctuation and common street abbreviations do not matter).
"""
from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field

from flask_babel import gettext as _

from fundapp.applications.models import Application, PayeeKind
from fundapp.applications.states import Status
from fundapp.extensions import db

#: An amount above the category's cap, this many times the category's median and beyond SPREAD interquartile
#: ranges above its upper quartile is flagged (with at least MIN_SAMPLES to compare with).
FAR_ABOVE = 3
SPREAD = 3
MIN_SAMPLES = 5
_STREET_WORDS = {"street": "st", "avenue": "ave", "road": "rd", "boulevard": "blvd", "apartment": "apt",
                 "drive": "dr", "lane": "ln", "calle": "c", "avenida": "av", "number": "no", "numero": "no"}


@dataclass
class Flag:
    kind: str  # "address", "payee", "phone", "household", "amount"
    message: str
    matches: list[int] = field(default_factory=list)  # ids of the other applications


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(_STREET_WORDS.get(word, word) for word in words)


def normal_address(text: str) -> str:
    return _fold(text)


def normal_account(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _fold(text))


def normal_phone(text: str) -> str:
    digits = re.sub(r"\D", "", text or "")
    return digits[-10:] if len(digits) >= 7 else ""


def household_names(text: str) -> frozenset[str]:
    parts = re.split(r",|;|/|&|\band\b|\by\b", text or "", flags=re.IGNORECASE)
    return frozenset(name for name in (_fold(part) for part in parts) if len(name) >= 2)


def submitted_applications(fund_id: int) -> list[Application]:
    """Every application of the fund past the draft: what flags compare against (load once for a list)."""
    return list(db.session.scalars(db.select(Application).where(
        Application.fund_id == fund_id, Application.status != Status.DRAFT)))


class FlagIndex:
    """Applications indexed by what flags compare (normalised once), so a page of n cases costs n lookups,
    not n times n comparisons."""

    KEYS = {
        "address": lambda a: normal_address(a.address),
        "payee": lambda a: normal_account(a.payee_details) if a.payee_kind != PayeeKind.MEMBER else "",
        "phone": lambda a: normal_phone(a.phone),
    }

    def __init__(self, applications: list[Application]):
        self.by_key: dict[str, dict[str, list[tuple[int, int]]]] = {kind: {} for kind in self.KEYS}
        self.households: list[tuple[int, int, frozenset[str]]] = []
        self.amounts: dict[str, list[tuple[int, int]]] = {}
        for a in applications:
            for kind, key in self.KEYS.items():
                value = key(a)
                if value:
                    self.by_key[kind].setdefault(value, []).append((a.member_id, a.id))
            names = household_names(a.household_members)
            if len(names) >= 2:
                self.households.append((a.member_id, a.id, names))
            if a.amount_requested_cents > 0:
                self.amounts.setdefault(a.category, []).append((a.member_id, a.amount_requested_cents))


MESSAGES = {
    "address": lambda: _("Same home address as another member's application."),
    "payee": lambda: _("Same payee account as another member's application."),
    "phone": lambda: _("Same phone number as another member's application."),
}


def flags_for(application: Application, candidates: list[Application] | FlagIndex | None = None) -> list[Flag]:
    """Everything about this application that matches another member's, and an unusually large amount.

    ``candidates`` (from ``submitted_applications``, or a ``FlagIndex`` of them) lets a page flag many
    applications with one query.
    """
    if not isinstance(candidates, FlagIndex):
        candidates = FlagIndex(submitted_applications(application.fund_id) if candidates is None else candidates)
    mine_member = application.member_id
    flags = []
    for kind, key in FlagIndex.KEYS.items():
        mine = key(application)
        matches = [other_id for member_id, other_id in candidates.by_key[kind].get(mine, [])
                   if member_id != mine_member] if mine else []
        if matches:
            flags.append(Flag(kind, MESSAGES[kind](), matches))
    mine = household_names(application.household_members)
    if len(mine) >= 2:
        matches = [other_id for member_id, other_id, names in candidates.households
                   if member_id != mine_member and len(mine & names) >= 2]
        if matches:
            flags.append(Flag("household", _("Two or more of the same household members as another member's "
                                             "application."), matches))
    amounts = [cents for member_id, cents in candidates.amounts.get(application.category, [])
               if member_id != mine_member]
    times = far_above(application.amount_requested_cents, amounts, application.rules.category_cap_cents)
    if times is not None:
        flags.append(Flag("amount", _("Far above what members usually ask for this (%(times)s times the "
                                      "median).", times=times)))
    return flags


def far_above(asked: int, amounts: list[int], cap_cents: int | None) -> float | None:
    """How many times the median ``asked`` is, when it is an outlier; else None.

    An outlier is above the category's cap (a request the rules allow is never one), more than
    ``FAR_ABOVE`` times the median, and beyond the spread of what others ask (the upper quartile plus
    ``SPREAD`` interquartile ranges), so a category whose requests vary widely (rent) flags less
    readily than one whose requests sit close together.
    """
    if (cap_cents is not None and asked <= cap_cents) or len(amounts) < MIN_SAMPLES:
        return None
    median = statistics.median(amounts)
    lower, _middle, upper = statistics.quantiles(amounts, n=4)
    if asked <= FAR_ABOVE * median or asked <= upper + SPREAD * (upper - lower):
        return None
    return round(asked / median, 1)
