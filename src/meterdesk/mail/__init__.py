"""Readings by e-mail: letters in (own SMTP server, IMAP mailbox), understood, submitted through
the readings' core, answered (docs/email.md)."""
