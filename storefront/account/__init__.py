"""Accounts: students and staff."""
