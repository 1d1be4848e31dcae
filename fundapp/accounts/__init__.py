"""Accounts: people who sign in, their roles in a fund, and the membership roster."""
