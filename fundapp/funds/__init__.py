"""Funds: the organisation whose money, rules and people every other row belongs to."""
