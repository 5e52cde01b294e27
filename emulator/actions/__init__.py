"""The emulated actions: one module each, the registry, and what they share (parameters,
input pictures, the result cache)."""
