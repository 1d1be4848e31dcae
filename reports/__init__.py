"""PDF builders: plain data in, PDF bytes out.

Nothing here imports ``fundapp``, Flask or the database; services gather the
data and views or commands send the bytes. Every document carries the fund's
name, its period and a generation stamp on each page (``reports.style``).
"""
