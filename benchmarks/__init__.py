"""Benchmarks of bda-emulator: they print tables and write results files, never assert timings.

Run from the repository root:

* ``python -m benchmarks.bench`` (``make bench``): load and compute, ``results.md``;
* ``python -m benchmarks.hostile`` (``make bench``): hostile clients, ``hostile-results.md``;
* ``python -m benchmarks.soak`` (``make soak``): 10,000 mixed requests, ``soak-results.md``.

Shared: :mod:`.harness` (server and load processes, /proc sampling), :mod:`.inputs` (pictures
and bodies), :mod:`.report` (results-file preamble, percentiles, check rows).
"""
