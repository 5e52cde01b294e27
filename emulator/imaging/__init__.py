"""Pixels, no HTTP: decoding and checking input images, the geometric region rules, encoders."""
