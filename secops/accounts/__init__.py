"""The account inventory: who owns each official account, how it signs in and recovers."""
