"""The local delivery agent (Postfix's local(8)): aliases, .forward, mailboxes, commands, files."""
