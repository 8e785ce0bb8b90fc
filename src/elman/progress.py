"""What fit prints while it trains: a progress bar per epoch (tqdm, when installed) and
one line per epoch with its losses, as Keras's ``verbose=1`` does."""

from __future__ import annotations

__all__ = ["Progress"]


class Progress:
    """A progress bar per epoch (tqdm when installed), or one line per epoch."""

    def __init__(self, verbose: int, epochs: int, n_batches: int):
        self.verbose, self.epochs, self.n_batches = verbose, epochs, n_batches
        self.bar = None
        self.tqdm = None
        if verbose == 1:
            try:
                from tqdm.auto import tqdm

                self.tqdm = tqdm
            except ImportError:  # a plain line per epoch instead
                pass

    def start(self, epoch: int):
        if self.tqdm is not None:
            # disable=None: a bar only on a terminal; a log file gets the epoch lines alone.
            self.bar = self.tqdm(total=self.n_batches, desc=f"epoch {epoch}/{self.epochs}", leave=False,
                                 unit="batch", disable=None)

    def batch(self, n: int = 1):
        if self.bar is not None:
            self.bar.update(n)

    def end(self, epoch: int, logs: dict, seconds: float, quiet: bool = False):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.verbose and not quiet:
            parts = " - ".join(f"{k}: {v:.4g}" for k, v in logs.items())
            print(f"epoch {epoch}/{self.epochs} - {seconds:.2f}s - {parts}")
