"""Command-line tools: pfx, postconf, postmap, postqueue, sendmail, ..."""
