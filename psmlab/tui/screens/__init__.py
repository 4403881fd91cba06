"""Screens and dialogs of the lab."""
