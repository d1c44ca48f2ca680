"""Queue storage: record codec, queue IDs, queue files and the queue directory (pure, blocking I/O)."""
