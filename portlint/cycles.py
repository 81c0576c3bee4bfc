"""Pausing Python's cycle collector while a document's model and indexes are built.

Reading a big file allocates hundreds of thousands of small objects and frees almost none:
the cycle collector would rescan them over and over (a quarter of the time of a 150k-rule
iptables dump, a third of a 50k-rule nftables ruleset). Garbage cycles made meanwhile (a
plugin's, say) wait until the work is done. What was built is then moved to the oldest
generation without being scanned (freezing, then unfreezing): the model lives as long as the
run, and the young collections that follow would scan all of it once more.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()
