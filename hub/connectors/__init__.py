"""Source connectors, the pure parts: configuration, column mapping, stable ids, file parsing, state."""
