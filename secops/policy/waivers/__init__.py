"""Waivers: time-boxed, four-eyes exceptions to a rule, applied when results are read."""
