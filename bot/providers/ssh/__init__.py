"""SSH: what the strategies that act on hosts share (``transport``: connections with checked host keys)."""
