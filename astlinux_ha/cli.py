"""keepalived-compatible command line (placeholder until the parser lands)."""
