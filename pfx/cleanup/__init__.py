"""cleanup: the only writer of new queue files (header pass, rewriting, enqueue)."""
