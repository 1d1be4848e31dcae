"""The funds figures: the trustees dashboard, reports for the board and members, the public page."""
