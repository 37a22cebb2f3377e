"""Signed internal records: what the hub writes for itself on Kafka, it signs; its consumers verify."""
