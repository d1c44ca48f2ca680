"""The bounce program (Postfix's bounce/defer/trace): per-recipient logs and DSN notices."""
