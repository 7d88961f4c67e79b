"""secops: account security for foreign ministries."""

__version__ = "0.1.0"
