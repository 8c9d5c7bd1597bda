"""The phone line (issue 20, docs/phone.md): the dialog as data (dialog.py), what it reads and
writes through the core (backend.py), spoken words (words.py), prompts rendered by a speech
synthesiser (prompts.py), a SIP endpoint (sip.py) and a FastAGI server (agi.py) driving it."""
