"""The psmlab TUI (Textual): thin screens and widgets over `psmlab.core.run.lab.Lab`."""
