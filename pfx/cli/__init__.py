"""Command-line programs in Postfix's shape: postmap, postalias, and the others."""
