"""Hardship applications: eligibility, the fund's versioned rules, drafts, documents, the state machine."""
