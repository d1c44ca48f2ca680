"""An example third-party pfx delivery agent (copy it to start your own)."""
