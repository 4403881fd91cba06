"""psmlab: an interactive terminal lab for the persona selection model."""

__version__ = "0.1.0"
