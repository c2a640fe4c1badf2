"""One module per group of `americano` commands, imported only when its command runs (``cli`` parses first)."""
