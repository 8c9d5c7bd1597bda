"""Service requests: the utility's services ordered by customers, scheduled by staff, billed."""
