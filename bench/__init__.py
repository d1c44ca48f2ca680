"""pfx benchmarks: reference figures from a private Postfix, and pfx's own (same format)."""
