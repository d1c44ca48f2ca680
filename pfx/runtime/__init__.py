"""Twisted glue shared by the programs: runtime, logging, service context."""
