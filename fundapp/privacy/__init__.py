"""A person's data across the domains: everything the fund holds about them, as a download (``my_data``),
and what is removed from a closed case after the retention period (``retention``). It stands above
applications and review, since both hold personal data about a case (answers and documents; decisions,
payments and the trustees' notes), so neither of them has to import the other."""
