"""Lookup tables (Postfix's util/dict_*.c): table types, the type:name registry, matching rules."""
