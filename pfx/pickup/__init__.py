"""pickup: the local submission path from maildrop/ into cleanup."""
