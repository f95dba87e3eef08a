"""Executor backends. Each module holds one runner; `base` holds what they share."""
