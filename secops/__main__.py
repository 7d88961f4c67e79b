"""Run the CLI as ``python -m secops``."""

from secops.cli import main

main()
