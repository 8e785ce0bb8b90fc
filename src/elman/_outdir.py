"""An output folder written all at once: the previous complete set of files or the new
complete set, never a mix.

A run writes its files into a fresh staging folder beside the target (created before
any work starts, so an unwritable place fails at once), then swaps it in:

    out/          the previous run (or nothing)
    .out.stage-x  the new run, complete     ->  rename out -> .out.old-y, .out.stage-x -> out

The swap holds an exclusive lock on the parent folder (two runs into one folder swap one
after the other) and blocks SIGINT/SIGTERM for its two renames, so Ctrl-C lands before
or after it. An interrupted or failed run removes its staging folder and leaves ``out``
as it was. A folder holding files that are not a run's is refused, never replaced.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
from pathlib import Path

from .errors import OutputError

__all__ = ["RunFolder"]


def _oserror(exc: OSError, what: str) -> OutputError:
    reason = exc.strerror or type(exc).__name__
    return OutputError(f"{what}: {reason}")


class RunFolder:
    """Stage the files of one run, then publish them as ``target`` in one step.

    target : the output folder; it must be missing, empty, or hold only what a run
        writes (a previous run), which is then replaced as a whole.
    names  : the file names a run writes.
    folders: {name: file names} for the subfolders a run writes (the demo's two runs).

    Use ``with RunFolder(target, names) as stage: ...write into stage...``; leaving the
    block normally publishes the folder, an exception discards the staging folder.
    """

    def __init__(self, target, names, folders=None):
        self.target = Path(target)
        self.names = frozenset(names)
        self.folders = {k: frozenset(v) for k, v in (folders or {}).items()}
        self.parent = self.target.parent if str(self.target.parent) else Path(".")
        self.stage: Path | None = None

    # -- before the work
    def _foreign(self, folder: Path, names, folders) -> list[str]:
        """What in ``folder`` a run did not write: anything but a plain file of ``names``
        or a subfolder of ``folders`` holding only its own names (a folder or a link
        named model.npz is someone else's)."""
        out = []
        for p in sorted(folder.iterdir()):
            if p.is_symlink():
                out.append(p.name)
            elif p.is_dir() and p.name in folders:
                out += [f"{p.name}/{q}" for q in self._foreign(p, folders[p.name], {})]
            elif not (p.is_file() and p.name in names):
                out.append(p.name + ("/" if p.is_dir() else ""))
        return out

    def _check_target(self) -> None:
        t = self.target
        if t.name in ("", ".", "..") or Path.cwd().resolve().is_relative_to(t.resolve()):
            raise OutputError(
                f"--out {str(t)!r} is the current folder or holds it; a run replaces its whole output "
                "folder, so give a folder of its own (e.g. --out run1)"
            )
        if t.is_symlink():
            raise OutputError(f"--out {str(t)!r} is a symbolic link; give the folder itself (a run replaces it)")
        if t.exists() and not t.is_dir():
            raise OutputError(f"--out {str(t)!r} is a file, not a folder; give a new or an empty folder")
        if t.is_dir():
            try:
                foreign = self._foreign(t, self.names, self.folders)
            except OSError as exc:
                raise _oserror(exc, f"cannot read the output folder {str(t)!r}") from None
            if foreign:
                shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
                raise OutputError(
                    f"--out {str(t)!r} holds files that no elman run wrote ({shown}); elman replaces the "
                    "whole folder, so give a new or an empty folder"
                )

    def __enter__(self) -> Path:
        self._check_target()
        existing = next((p for p in (self.parent, *self.parent.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise OutputError(f"cannot write the output folder {str(self.target)!r}: {str(existing)!r} is a "
                              "file, not a folder")
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            self.stage = _new_folder(self.parent, f".{self.target.name[:64]}.stage-")
        except OSError as exc:
            raise _oserror(exc, f"cannot write the output folder {str(self.target)!r} (in "
                                f"{str(self.parent)!r})") from None
        return self.stage

    # -- after the work
    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None:
            shutil.rmtree(self.stage, ignore_errors=True)
            return
        try:
            self._publish()
        except OSError as e:
            raise OutputError(
                f"cannot move the finished run into {str(self.target)!r}: {e.strerror or e}; the complete "
                f"results are kept in {str(self.stage)!r}"
            ) from None

    def _publish(self) -> None:
        with _locked(self.parent), _signals_held():
            self._check_target()  # another run may have changed it while this one worked
            old = None
            if self.target.exists():
                old = _new_folder(self.parent, f".{self.target.name[:64]}.old-")
                os.replace(self.target, old)  # an empty folder is replaced by a folder
            try:
                os.replace(self.stage, self.target)
            except OSError:
                if old is not None:
                    os.replace(old, self.target)  # put the previous run back
                raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new folder with a unique name, made with mode 0o777 so that the umask (and a
    default ACL) applies as for any new folder (tempfile.mkdtemp would make it 0o700)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name {prefix}* in {str(parent)!r}")


@contextlib.contextmanager
def _locked(folder: Path):
    """An exclusive lock on ``folder`` (flock on its descriptor; none where unsupported)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the renames are still each atomic
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.contextmanager
def _signals_held():
    """SIGINT and SIGTERM wait until the block ends (main thread, POSIX only)."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
