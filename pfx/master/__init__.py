"""The master: one child service per master.cf row, start order, reload."""
