"""What the journal learns while one request is served, and the entry it becomes."""

from __future__ import annotations

from emulator.actions.results import Picture
from emulator.errors import ApiError
from emulator.scenarios.facts import Facts
from emulator.serve.journal import Entry
from emulator.text import clip

__all__ = ["MAX_EXPLAIN_CHARS", "Trace"]

#: The journal keeps this much of a failure's explanation.
MAX_EXPLAIN_CHARS = 4096


class Trace:
    """What the journal learns while one request is served."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.code = "InternalError"
        self.facts = Facts()
        self.picture: Picture | None = None
        self.rules: list[str] = []
        self.explain: str | None = None
        self.task: tuple[str, str] | None = None  # (TaskID, TaskStatus) the request touched
        self.scope: str | None = None  # the known account whose namespace the request is in

    def failed(self, error: ApiError) -> None:
        """Note a failure's code and, clipped, its explanation or detailed reason.

        The error's frames are dropped: a frame that raised it often holds it too (a list of
        candidate errors), a cycle that kept each request's megabytes of body alive until a
        full garbage collection — gigabytes under concurrent large requests.
        """
        self.code = error.code
        why = error.explain or error.details.get("reason")
        self.explain = None if why is None else why[:MAX_EXPLAIN_CHARS]
        cause: BaseException | None = error
        while cause is not None:
            cause.__traceback__ = None
            cause = cause.__cause__ or cause.__context__

    def entry(self, http_method: str, at: float, seconds: float) -> Entry:
        """The journal entry: facts read before any check, the picture once it was read."""
        facts, pic = self.facts, self.picture
        return Entry(
            time=at, request_id=self.request_id, code=self.code,
            latency_ms=round(seconds * 1000, 3), http_method=clip(http_method, 16),
            action=facts.action, secret_id=facts.secret_id, region=facts.region,
            signature_method=facts.signature_method, options=facts.selected,
            image_sha256=pic.sha256 if pic else facts.image_sha256,
            image_bytes=len(pic.data) if pic else facts.image_bytes,
            image_width=pic.width if pic else facts.image_width,
            image_height=pic.height if pic else facts.image_height, rules=tuple(self.rules),
            explain=self.explain, task_id=self.task[0] if self.task else None,
            task_state=self.task[1] if self.task else None)
