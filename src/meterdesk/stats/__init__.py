"""The figures a utility is run on: how each channel is used, how the months were billed, how
households pay, and what the phone line and the mail channel did (docs/statistics.md)."""
