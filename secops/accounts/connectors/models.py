"""Tables for the account inventory."""
