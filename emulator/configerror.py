"""The one family of configuration mistakes: a setting, the credentials file, the URL map or a
scenario file that cannot be used. Each message names the file (or setting) and, inside a JSON
file, the JSON pointer of the problem; the command line catches this one class and prints it
without a traceback."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """Configuration that cannot be used; the message says where and why."""
