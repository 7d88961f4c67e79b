"""The demo inventory dataset (package data)."""
