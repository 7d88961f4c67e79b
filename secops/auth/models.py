"""Tables for auth."""
