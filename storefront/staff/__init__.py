"""Staff: finding students, recording sessions, expiry, refunds, plans."""
