"""The one place that talks to Stripe (DESIGN.md section 4).

``gateway`` creates checkouts, verifies webhooks, fetches objects and turns
Stripe's shapes into the plain money facts of ``facts``. It knows nothing of
donations or the books: ``donations`` asks it for facts and posts them.
"""
