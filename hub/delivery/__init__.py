"""Delivery to recipients' sinks: webhook signing, retry schedule, SSRF guard, outbox, dead letters."""
