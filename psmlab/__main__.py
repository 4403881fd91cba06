"""`python -m psmlab` runs the command line."""

from psmlab.cli import main

main()
