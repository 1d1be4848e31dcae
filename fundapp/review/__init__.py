"""Trustees' review: the queue, decisions with dual approval and recusal, the funds guard, payments."""
