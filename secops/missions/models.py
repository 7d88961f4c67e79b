"""Tables for missions."""
