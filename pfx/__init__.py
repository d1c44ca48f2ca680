"""pfx: a mail transfer agent in the Postfix tradition, in Python on Twisted."""

__version__ = "0.1.0"
