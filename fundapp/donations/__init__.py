"""Gifts: giving through Stripe Checkout, booking what Stripe says happened, offline gifts and deposits,
receipts and statements, and the donor portal."""
