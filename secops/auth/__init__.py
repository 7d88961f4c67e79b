"""Identity and access: users, TOTP, sessions, API keys, grants."""
