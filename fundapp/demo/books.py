"""The demo fund's money: three months of gifts, payouts and deposits, booked by the same services as real money."""
from __future__ import annotations

import random
from datetime import date, timedelta

from fundapp.demo.people import DEMO_USERS, FIRST_NAMES, LAST_NAMES
from fundapp.funds import clock
from fundapp.funds.models import Fund
from fundapp.ledger import services as ledger

DEMO_WALL = ["Solidarity from the nurses of Local 12!", "Hold the line. We are with you.",
             "From a teacher whose union stood up too.", "One day longer, one day stronger.",
             "Con ustedes hasta el final.", "My dad walked this line in 1986. Thank you."]


def seed_demo_books(fund: Fund, today: date, seed: int = 3) -> int:
    """Three months of made-up activity through the same services as real money: card gifts with
    Stripe's fee (donations with receipts, some on the donor wall), cheques and cash deposited
    weekly, weekly payouts (grants come from ``fundapp.demo.cases``). No mail is sent for demo gifts."""
    from fundapp.donations import booking
    from fundapp.donations import offline as offline_gifts
    from fundapp.donations.models import WallStatus
    from fundapp.payments.facts import PaymentSettled, PayoutFact

    rng = random.Random(seed)  # nosec B311 # made-up demo data, not security
    posted = 0

    def post(day, memo, kind, source, postings):
        nonlocal posted
        ledger.post_entry(fund, entry_date=day, memo=memo, source_kind=kind, source_id=source, postings=postings)
        posted += 1

    start = today - timedelta(days=90)
    post(start, "Opening balance carried from the union's strike account", "demo.opening", "1",
         [("Assets:Bank", 1_500_000), ("Equity:Opening", -1_500_000)])
    people = [(f"{first} {last}", f"{first}.{last}@demo.example.org".lower().replace("ñ", "n").replace("ú", "u"))
              for first in FIRST_NAMES[:10] for last in LAST_NAMES[:6]]
    people.append(("Dan Donor", DEMO_USERS[4][0]))
    for offset in range(91):
        day = start + timedelta(days=offset)
        for n in range(rng.randint(1, 4)):
            gross = rng.choice([1_000, 2_500, 5_000, 10_000, 25_000]) + rng.choice([0, 0, 0, 137])
            fee = gross * 29 // 1000 + 30  # 2.9% + 30c, as Stripe charges in the US
            name, email = people[-1] if n == 0 and offset % 30 == 5 else rng.choice(people)
            gift = booking.record_settled_payment(fund, PaymentSettled(
                charge_id=f"demo_ch_{offset}_{n}", payment_intent_id=None, invoice_id=None, subscription_id=None,
                customer_id=None, gross_cents=gross, fee_cents=fee, net_cents=gross - fee, currency=fund.currency,
                at=clock.start_of(fund, day) + timedelta(hours=12), email=email, name=name), notify=False)
            gift.anonymous = rng.random() < 0.2
            if rng.random() < 0.08:
                gift.wall_status, gift.wall_message = WallStatus.SHOWN, rng.choice(DEMO_WALL)
            posted += 1
        if offset % 7 == 6:
            stripe_balance = ledger.balance(fund, "Assets:Stripe")
            if stripe_balance > 0:
                booking.record_payout(fund, PayoutFact(f"demo_po_{offset}", stripe_balance, fund.currency, day,
                                                         "paid"))
                posted += 1
            for n in range(rng.randint(1, 3)):
                name, email = rng.choice(people)
                offline_gifts.record_offline_gift(fund, name=name, email=email, amount_cents=rng.randint(2_000, 20_000),
                                              received_on=day - timedelta(days=1), method=rng.choice(["cheque", "cash"]),
                                              reference=str(1000 + offset * 3 + n), notify=False)
                posted += 1
            offline_gifts.record_deposit(fund, [g.id for g in offline_gifts.undeposited_gifts(fund)], deposited_on=day,
                                     reference=f"slip {offset}")
            posted += 1
    return posted
