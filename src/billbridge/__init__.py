"""billbridge: link BILL (Bill.com) accounts and keep those links alive."""

__version__ = "0.1.0"
