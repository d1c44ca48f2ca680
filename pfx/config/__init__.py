"""Configuration: main.cf, master.cf, the parameter registry (pure)."""
