"""Linting many files at once in worker processes (``--jobs``).

Workers are forked from the run's process, so they inherit the plugin registry, the catalog and
the linter already loaded instead of loading them again, and only the inputs and the pickled
outcomes cross between processes. Outcomes are consumed in input order, so a parallel run
reports exactly what a serial one does. Whatever keeps a pool from doing its part (no fork on
this platform, a pool that cannot start, a worker that dies, an outcome that cannot be pickled)
makes this process do that part itself: never a different result, never a crash.
"""
from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING, Callable, Hashable, Sequence, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

#: Unless ``--jobs`` says otherwise, a run is parallel when its files besides the largest (which
#: one process lints alone whatever the number of processes) add up to this: below it, starting
#: the workers and sending the documents back cost about what the other processors save
#: (docs/performance.md has the measurements).
PARALLEL_FROM_BYTES = 256 * 1024
#: Chunks per worker: more balance the load when file sizes differ, fewer cost fewer round trips.
CHUNKS_PER_WORKER = 4

_task: Callable | None = None  # a worker's task, inherited through fork (never pickled)
_PR_SET_PDEATHSIG = 1  # prctl(2)


def cpu_count() -> int:
    """The processors this process may run on: a taskset or cpuset limit counts (a CPU quota
    does not)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_jobs(paths: Sequence[str]) -> int:
    """The number of processes for linting ``paths`` when ``--jobs`` is not given."""
    sizes = sorted(file_size(path) for path in paths)
    return cpu_count() if sum(sizes[:-1]) >= PARALLEL_FROM_BYTES else 1


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:  # gone since it was found: reading it will say so
        return 0


def ordered_map(task: Callable[[T], R], items: Sequence[T], jobs: int,
                kind: Callable[[T], Hashable] = lambda item: None,
                size: Callable[[T], int] = lambda item: 0) -> list[R]:
    """``task(item)`` for every item, in order, by ``jobs`` processes. The smallest item of each
    ``kind`` is done here before the workers fork, so that they inherit what it loaded (a
    parser's modules, its grammar, the catalog's rows) instead of each loading it again.
    ``task`` must return something picklable; it is not pickled itself."""
    if min(jobs, len(items)) < 2:
        return [task(item) for item in items]
    smallest: dict[Hashable, tuple[int, int]] = {}
    for i, item in enumerate(items):
        key, weight = kind(item), size(item)
        if key not in smallest or weight < smallest[key][0]:
            smallest[key] = (weight, i)
    done = {i: task(items[i]) for i in sorted(i for _, i in smallest.values())}
    rest = [item for i, item in enumerate(items) if i not in done]
    pooled = iter(_pooled(task, rest, min(jobs, len(rest))))
    return [done[i] if i in done else next(pooled) for i in range(len(items))]


def _pooled(task: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``task(item)`` for every item, in order, by a pool of ``workers`` processes forked now,
    or here where there cannot be one."""
    executor = _pool(task, workers) if workers > 1 else None
    if executor is None:
        return [task(item) for item in items]
    size = -(-len(items) // (workers * CHUNKS_PER_WORKER))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    collecting = gc.isenabled()
    try:
        futures = [_submit(executor, chunk) for chunk in chunks]
        # Receiving allocates every declaration and finding anew, none of them garbage: the
        # cycle collector would rescan them over and over (half the time of receiving them).
        gc.disable()
        return [outcome for chunk, future in zip(chunks, futures) for outcome in _outcomes(task, chunk, future)]
    except BaseException:
        _stop_now(executor)  # Ctrl-C: leave no worker behind, and do not wait for their chunks
        raise
    finally:
        if collecting:
            gc.enable()
        executor.shutdown(cancel_futures=True)


def _outcomes(task: Callable, chunk: Sequence, future: Future) -> list:
    """What the pool did with ``chunk``; done here when it did not."""
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - a worker died, an outcome could not be pickled, ...
        return [task(item) for item in chunk]


def _pool(task: Callable, workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` processes forked on its first submission; None without fork."""
    import multiprocessing  # imported here: 15 ms that a serial run does not need
    from concurrent.futures import ProcessPoolExecutor

    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    sys.stdout.flush()  # a worker must not write again what this process has not written yet
    sys.stderr.flush()
    try:
        return ProcessPoolExecutor(workers, multiprocessing.get_context("fork"), _adopt, (task, os.getpid()))
    except (NotImplementedError, OSError):  # no working semaphores on this system
        return None


def _adopt(task: Callable, parent: int) -> None:
    """A worker's start. Ctrl-C reaches the whole process group, and only the main process
    answers it (it stops the workers): a worker would print a traceback."""
    import signal

    global _task
    _task = task
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with(parent)


def _die_with(parent: int) -> None:
    """End this worker when the main process ends, however it ends (killed, out of memory):
    waiting for work from a process that is gone, it would wait forever, and keep the run's
    output pipes open. Linux tells a process of its parent's death; elsewhere the main process
    stops its workers when it can (Ctrl-C)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before this worker asked to be told
        os._exit(1)


def _submit(executor: ProcessPoolExecutor, chunk: Sequence) -> Future:
    """The future outcomes of ``chunk``; a failed one when the pool cannot start (fork failed)
    or has broken (a worker died)."""
    from concurrent.futures import Future

    try:
        return executor.submit(_run_chunk, chunk)
    except Exception as exc:  # noqa: BLE001 - reported through the future
        failed: Future = Future()
        failed.set_exception(exc)
        return failed


def _run_chunk(items: Sequence) -> list:
    assert _task is not None, "a worker runs the task it was forked with"
    return [_task(item) for item in items]


def _stop_now(executor: ProcessPoolExecutor) -> None:
    """Terminate the workers instead of letting them finish their chunks."""
    terminate = getattr(executor, "terminate_workers", None)  # Python 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((executor._processes or {}).values()):  # no public way before Python 3.14
        process.terminate()
