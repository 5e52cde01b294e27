"""The coverage report as a picture, in HTML: the dashboard's panel and the file a CI job keeps.

One renderer for both: :func:`fragment` is the panel's content (the dashboard inserts it as
is), :func:`document` the same inside a standalone page with the dashboard's stylesheet
inlined — no script, nothing fetched, readable from a CI artifact store. Each documented code
is a tile in the grid of its group: filled (coloured by its class, client or service error)
when the client under test has seen it, with its count, dashed when it never has; transport
faults are bars by kind. Every tile says in words what its colour says.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from html import escape
from typing import Any

from emulator.errors import CATALOGUE
from emulator.serve.journal import GROUPS, outcome_class

__all__ = ["GROUP_TITLES", "document", "fragment"]

GROUP_TITLES = {
    "action": "Documented for SegmentCustomizedPortraitPic",
    "bda": "Other bda codes",
    "common": "Common codes (every Tencent Cloud API)",
}
_ORDER = {code: index for index, code in enumerate(CATALOGUE)}


def fragment(report: Mapping[str, Any]) -> str:
    """The panel: a summary line, a grid per group, the actions, the transport faults."""
    returned, never = report.get("returned", {}), report.get("never", [])
    since = float(report.get("since", 0))
    parts = [
        f'<p class="cov-summary">{report.get("requests", 0):,} requests '
        f'({report.get("ok", 0):,} OK) since <time datetime="{_iso(since)}">{_iso(since)}'
        f"</time>: <strong>{len(returned)}</strong> of {report.get('documented', 0)} "
        f"documented codes returned, <strong>{len(never)}</strong> never.</p>",
        '<div class="cov-groups">',
    ]
    for name, codes in GROUPS.items():
        group = report.get("groups", {}).get(name, {})
        seen = group.get("returned", {})
        parts.append(_grid(GROUP_TITLES.get(name, name), codes, seen))
    parts.append("</div>")
    parts.append(_actions(report.get("actions", {})))
    parts.append(_transport(report.get("transport", {})))
    return "\n".join(parts)


def document(report: Mapping[str, Any], stylesheet: str, title: str = "bda-emulator coverage"
             ) -> str:
    """A standalone HTML file: :func:`fragment` with ``stylesheet`` inlined, no script."""
    made = _iso(time.time())
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{stylesheet}\n</style>\n</head>\n"
        f'<body class="export">\n<main>\n<h1>{escape(title)}</h1>\n'
        f'<p class="cov-made">Exported <time datetime="{made}">{made}</time>.</p>\n'
        f'<section class="panel" aria-label="coverage">\n{fragment(report)}\n</section>\n'
        "</main>\n</body>\n</html>\n")


def _grid(title: str, codes: tuple[str, ...], seen: Mapping[str, int]) -> str:
    count = sum(1 for code in codes if seen.get(code))
    cells = []
    for code in codes:
        n = int(seen.get(code, 0))
        if n:
            kind = outcome_class(code)
            cells.append(f'<li class="cov-cell seen {kind}"><span class="cov-code">'
                         f'{_breakable(code)}</span> <span class="cov-n">{n:,}'
                         f'<span class="vh"> returned ({kind} error)</span></span></li>')
        else:
            cells.append(f'<li class="cov-cell never"><span class="cov-code">{_breakable(code)}'
                         '</span> <span class="cov-n" aria-label="never returned">–</span>'
                         "</li>")
    return (f'<figure class="cov-group"><figcaption><strong>{escape(title)}</strong> '
            f'<span class="cov-count">{count} of {len(codes)} seen</span> '
            f'<meter min="0" max="{len(codes)}" value="{count}" aria-label="{escape(title)}: '
            f'{count} of {len(codes)} seen">{count} of {len(codes)}</meter></figcaption>'
            f'<ul class="cov-grid">{"".join(cells)}</ul></figure>')


def _actions(actions: Mapping[str, Mapping[str, Any]]) -> str:
    if not actions:
        return ""
    rows = []
    for name, row in actions.items():
        seen, never = len(row.get("returned", {})), len(row.get("never", []))
        total = seen + never
        missing = sorted(row.get("never", []), key=lambda code: _ORDER.get(code, 0))
        rows.append(
            f"<tr><th scope=\"row\">{escape(name)}</th><td>{row.get('requests', 0):,}</td>"
            f"<td>{row.get('ok', 0):,}</td><td>{seen} of {total} "
            f'<meter min="0" max="{total}" value="{seen}" aria-label="{escape(name)}: '
            f'{seen} of {total} documented codes seen">{seen} of {total}</meter></td>'
            f'<td class="cov-never">{_never(missing)}</td></tr>')
    return ('<table class="cov-actions"><caption>Per action: documented codes seen'
            '</caption><thead><tr><th scope="col">Action</th><th scope="col">Requests</th>'
            '<th scope="col">OK</th><th scope="col">Documented codes seen</th>'
            '<th scope="col">Never returned</th></tr></thead><tbody>'
            + "".join(rows) + "</tbody></table>")


def _never(codes: list[str]) -> str:
    if not codes:
        return "none"
    return (f"<details><summary>{len(codes)} codes</summary>{escape(', '.join(codes))}"
            "</details>")


def _transport(faults: Mapping[str, int]) -> str:
    kinds = {code: n for code, n in faults.items() if outcome_class(code) == "transport"}
    other = {code: n for code, n in faults.items() if code not in kinds}
    if not faults:
        return ('<figure class="cov-transport"><figcaption><strong>Transport faults by kind'
                "</strong></figcaption><p>None yet.</p></figure>")
    top = max(faults.values())
    bars = [f'<li class="{outcome_class(code)}"><span class="cov-code">{escape(code)}</span> '
            f'<meter min="0" max="{top}" value="{n}" aria-label="{escape(code)}: {n}">{n}'
            f'</meter> <span class="cov-n">{n:,}</span></li>'
            for code, n in sorted({**kinds, **other}.items())]
    return ('<figure class="cov-transport"><figcaption><strong>Transport faults by kind'
            f'</strong> (and outcomes outside the catalogue)</figcaption><ul class="cov-bars">'
            f'{"".join(bars)}</ul></figure>')


def _breakable(code: str) -> str:
    """A code that wraps after its dots rather than inside a word."""
    return escape(code).replace(".", ".<wbr>")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max(0.0, epoch)))
