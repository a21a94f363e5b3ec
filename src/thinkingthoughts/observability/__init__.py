"""Metrics, logging and tracing hooks."""
