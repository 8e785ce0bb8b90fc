"""The Dask side of :mod:`elman.study`: a local cluster, a connection to a running one,
and the loop that submits the cells and hands each result over as it finishes. Dask's
``LocalCluster``, ``Client`` and ``as_completed`` as they are: nothing is scheduled here.
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable

from .errors import ParameterError, one_line, require
from .validation import _brief, _count

__all__ = ["CONNECT_TIMEOUT", "local_cluster", "connect", "client_for", "run"]

#: Seconds to wait for a scheduler given by address before giving up.
CONNECT_TIMEOUT = 5.0


@contextlib.contextmanager
def local_cluster(workers: int | None = None):
    """``with local_cluster(2) as client:`` a Dask LocalCluster of ``workers`` processes
    (default: one per core), one thread each, on 127.0.0.1, no dashboard; it is closed
    when the block ends, whatever happens in it."""
    distributed = require("distributed", "study")
    n = (os.cpu_count() or 1) if workers is None else _count(workers, "workers")
    # No dashboard; the scheduler's small HTTP server (health checks) on a free local
    # port, not 8787, which a second cluster would find taken (and warn).
    with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}
                                  ) as cluster, distributed.Client(cluster) as client:
        yield client


@contextlib.contextmanager
def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """``with connect("tcp://host:8786") as client:`` a Client of a running Dask
    scheduler; a ParameterError (one line) when none answers within ``timeout`` seconds.
    Its workers must be able to import elman (the same environment)."""
    distributed = require("distributed", "study")
    if not isinstance(address, str) or not address.strip():
        raise ParameterError(f"the scheduler address must be a string such as 'tcp://host:8786', got "
                             f"{_brief(address)}")
    client = _client_within(distributed, address, timeout)
    with client:
        yield client


def _client_within(distributed, address: str, timeout: float):
    """distributed.Client(address), or a ParameterError after ``timeout`` (+1 s) in all.

    Client's own timeout bounds the TCP connect only: a listener that is not a Dask
    scheduler (an HTTP server, a socket that never answers) would hold it for ever, and
    one that answers with other bytes makes Dask read them as a frame length (a
    MemoryError for exabytes). So the Client is made in a thread with a deadline, and
    any failure there is one line naming the address."""
    import threading

    box: dict = {}

    def make():
        try:
            box["client"] = distributed.Client(address, timeout=timeout)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=make, name="elman-study-connect", daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    if "client" in box:
        return box["client"]
    why = (f"{type(box['error']).__name__}: {one_line(box['error'], 200)}" if "error" in box
           else "something answers there, but not as a Dask scheduler")
    raise ParameterError(f"cannot reach a Dask scheduler at {address!r} within {timeout:g} s ({why})")


def client_for(client, workers: int | None, timeout: float):
    """The context manager that gives a sweep its Client: a local cluster (client None),
    a connection (an address), or the caller's Client, left open."""
    if client is not None and workers is not None:
        raise ParameterError("give workers (for a local cluster) or client, not both")
    if client is None:
        return local_cluster(workers)
    if isinstance(client, str):
        return connect(client, timeout)
    if not callable(getattr(client, "submit", None)):
        raise ParameterError(f"client must be a distributed.Client, a scheduler address or None, got "
                             f"{_brief(client)}")
    return contextlib.nullcontext(client)


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _bar(total: int, verbose: int):
    """A progress bar of the cells (tqdm, on a terminal only), or nothing."""
    if not verbose:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc="cells", unit="cell", disable=None)


def run(client, fn: Callable[[dict], dict], specs: list[dict], keys: list[str],
        finished: Callable[[dict, dict], None], verbose: int = 0) -> None:
    """One ``client.submit(fn, spec, key=key)`` per cell; ``finished(spec, row)`` as each
    completes, in the order they complete. On an error in a cell (or Ctrl-C) the cells not
    yet finished are cancelled and the error is raised; those finished were handed over."""
    distributed = require("distributed", "study")
    futures = {client.submit(fn, spec, key=key): spec for spec, key in zip(specs, keys)}
    bar = _bar(len(specs), verbose)
    try:
        for fut in distributed.as_completed(futures):
            finished(futures[fut], fut.result())
            bar.update()
    finally:
        bar.close()
        client.cancel(list(futures))
