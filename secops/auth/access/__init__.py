"""Access: grants of roles on missions, API keys, and the principal they add up to."""
