"""Shared bench code: load generation, CPU accounting of a server process tree, and the Postfix
reference instance."""
