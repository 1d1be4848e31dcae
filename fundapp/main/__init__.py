"""Public pages, the language switch and the health check."""
