"""Tables for audit."""
