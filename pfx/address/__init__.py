"""The pure address layer: parsing, quoting, canonical rewriting and resolution (trivial-rewrite)."""
