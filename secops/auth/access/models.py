"""Tables for grants and API keys."""
