"""Data-encryption keys, wrapped by the key-encryption key, stored in the database."""
