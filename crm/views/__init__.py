"""Pages of the contacts domain: contacts (contacts.py), import/export (transfer.py), campaigns, log-in (login.py)."""
