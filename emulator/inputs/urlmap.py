"""Known Urls answered from bundled files, so the official examples work offline.

``fixtures/urls.json`` maps the docs' example COS Urls to bundled pictures; a user's map replaces
it (``--url-map``). Files are read at start, so a missing one fails at once, not on a request.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from yarl import URL

from emulator import strictjson
from emulator.configerror import ConfigError
from emulator.errors import ApiError
from emulator.inputs.urlpolicy import check_url_syntax
from emulator.resources import fixture_path
from emulator.strictjson import pointer

__all__ = ["UrlMap", "UrlMapError"]


class UrlMapError(ConfigError):
    """A URL map that cannot be used; the message names the file and the JSON pointer."""


class UrlMap:
    """Known URLs answered from bundled files, so the official examples work offline."""

    def __init__(self, entries: Mapping[str, bytes] | None = None) -> None:
        self._entries: Mapping[str, bytes] = MappingProxyType(
            {_map_key(url): data for url, data in (entries or {}).items()}
        )

    @classmethod
    def load(cls, path: Path) -> UrlMap:
        """Read a JSON object ``{url: file}``; relative files are resolved against its folder.

        Files are read now, so a missing file fails at startup rather than on a request.
        """
        try:
            raw = strictjson.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UrlMapError(f"{path}: at /: cannot read the URL map ({exc})") from exc
        if not isinstance(raw, dict):
            raise UrlMapError(f"{path}: at /: a URL map is a JSON object of url -> file")
        entries: dict[str, bytes] = {}
        for url, rel in raw.items():
            if not isinstance(rel, str) or not rel:
                raise UrlMapError(f"{path}: at {pointer([url])}: the file must be a path string")
            file = path.parent / rel
            try:
                check_url_syntax(url)
                entries[url] = file.read_bytes()
            except ApiError as exc:
                raise UrlMapError(f"{path}: at {pointer([url])}: not a legal URL") from exc
            except OSError as exc:
                raise UrlMapError(f"{path}: at {pointer([url])}: cannot read {file} ({exc})"
                                  ) from exc
        return cls(entries)

    @classmethod
    def bundled(cls) -> UrlMap:
        """The map shipped in ``fixtures/urls.json``."""
        return cls.load(fixture_path("urls.json"))

    def lookup(self, url: str) -> bytes | None:
        """The bundled bytes for ``url`` (compared after normalisation), or None."""
        try:
            return self._entries.get(_map_key(url))
        except ValueError:
            return None

    def __len__(self) -> int:
        return len(self._entries)


def _map_key(url: str) -> str:
    """Normalise so that host case, default ports and fragments do not defeat a lookup."""
    return str(URL(url).with_fragment(None))
