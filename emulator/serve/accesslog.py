"""One log line per API request, text or JSON, made from its journal entry.

The entry holds metadata only (never a secret key, token, signature or payload), so neither
can the line.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from emulator.serve.journal import Entry

log = logging.getLogger("bda_emulator.access")
_PLAIN = re.compile(r"[A-Za-z0-9_.:,/@+\-\[\]']*")

_FIELDS = ("request_id", "http_method", "action", "region", "signature_method", "secret_id",
           "code", "latency_ms")


def fields(entry: Entry) -> dict[str, Any]:
    """What a request's log line says."""
    data = {name: getattr(entry, name) for name in _FIELDS}
    data["rules"] = list(entry.rules)
    return data


def line(entry: Entry, fmt: str) -> str:
    """The line in ``text`` (key=value) or ``json`` format."""
    data = fields(entry)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return " ".join(f"{k}={_text(v)}" for k, v in data.items() if v not in (None, []))


def _text(value: Any) -> str:
    """A value as one token: client-chosen text with spaces, quotes, ``=`` or control
    characters is JSON-quoted, so it can neither forge a field nor start a new line."""
    text = str(value)
    if _PLAIN.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=True)


def emit(entry: Entry, fmt: str) -> None:
    """Log the request at INFO on ``bda_emulator.access``."""
    if log.isEnabledFor(logging.INFO):
        log.info(line(entry, fmt))


class JsonFormatter(logging.Formatter):
    """Every log record as one JSON object (access lines are merged in, not nested)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"time": self.formatTime(record), "level": record.levelname,
                                "logger": record.name}
        message = record.getMessage()
        if record.name == log.name and message.startswith("{"):
            data.update(json.loads(message))
        else:
            data["message"] = message
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure(fmt: str) -> None:
    """Root logging for the CLI: INFO, one line per record, in ``fmt``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
