"""Pure helpers with no mail knowledge (stdlib only)."""
