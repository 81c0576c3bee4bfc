"""Pausing Python's cycle collector while a document's model and indexes are built.

Reading a big file allocates hundreds of thousands of small objects and frees almost none:
the cycle collector would rescan them over and over (a fifth of the time of a 150k-rule
iptables dump, a third of a 50k-rule nftables ruleset). Garbage cycles made meanwhile (a
parser's error recovery, a plugin's) wait until the work is done.

Then, when the stretch made many objects, they are moved to the oldest generation without
being scanned (freezing, then unfreezing): the model lives as long as the run, and the young
collections that follow would scan all of it once more. Python's own accounting does not see
objects moved that way, so it would hardly ever run a full collection again, and the garbage
cycles moved with them would stay for the run: a fuzzing campaign reached 24 GB. A full
collection therefore runs once every few million objects moved. A stretch that made fewer
objects leaves them to the young collections, as if the collector had not been paused.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

#: Objects a paused stretch must make to be moved to the oldest generation unscanned.
FREEZE_FROM = 100_000
#: Objects moved unscanned after which a full collection frees the garbage cycles among them.
COLLECT_AFTER = 4_000_000
_moved = 0


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    global _moved
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:  # else an enclosing stretch (or the caller) decides
            made = gc.get_count()[0]  # objects allocated and not freed since the last collection
            if made >= FREEZE_FROM:
                gc.freeze()
                gc.unfreeze()
                _moved += made
                if _moved >= COLLECT_AFTER:
                    _moved = 0
                    gc.collect()
            gc.enable()
