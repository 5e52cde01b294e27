"""Scenarios: request facts, rules, effects (data), loading files, and the store that decides."""
