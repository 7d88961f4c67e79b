"""Benchmarks: ``python -m secops.bench <name>`` measures one part of secops on this machine."""
