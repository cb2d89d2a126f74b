"""Stripe Billing: a Customer per student, a Product and a monthly Price per subscription plan."""
