"""Payments: the Stripe gateway and the mapping of its errors."""
