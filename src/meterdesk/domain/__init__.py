"""The rules of meterdesk as plain Python: no Django, no database.

Everything here works on plain data (dataclasses, Decimals, dates) so that it can be
tested exhaustively and used in bulk by the billing engine.
"""
