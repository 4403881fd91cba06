"""Writing files safely: atomic saves through links with permissions kept, and one writer a session.

A save writes a temporary file in the same directory, fsyncs it and renames it over the old one, so
a crash at any moment leaves either the old or the new file, never half of one. A session's writer
holds an flock on a lock file beside it, which the kernel releases if the process dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import re
import shlex
import stat
import time
from pathlib import Path

from psmlab.core.errors import SessionError, SessionLockedError


def real_path(path: Path) -> Path:
    """The file a symlink points to (the path itself otherwise): a save renamed over the link
    replaced it with a copy, and the file it pointed to never changed."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def refuse_read_only(path: Path) -> None:
    """A file its owner made read-only is not written over (a rename would, quietly)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) and not mode & stat.S_IWUSR:
        raise SessionError(
            f"{path} is read-only",
            f"the file was left as it was; make it writable (chmod u+w {shlex.quote(str(path))}) "
            "or save to another path",
        )


def atomic_write(path: Path, data: bytes, *, session: bool = False) -> None:
    """Temporary file, fsync, rename, fsync the directory; through a symlink, to the file it
    points to; the file's permissions kept (a private session stays private). A `session` its
    owner made read-only is refused (an export or a report is written as any tool writes)."""
    path = real_path(path)
    if session:
        refuse_read_only(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:  # an interrupt too: no temporary file left behind
        with contextlib.suppress(OSError):
            tmp.unlink()
        if not isinstance(exc, OSError):
            raise
        reason = "the disk is full" if exc.errno == errno.ENOSPC else exc.strerror
        raise SessionError(
            f"could not save {path}: {reason}",
            "the previous file is intact; free space or choose another path",
        ) from None
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def clear_stale_temps(path: Path) -> None:
    """Delete the temporary files a killed writer left beside `path` (call holding its lock)."""
    real = real_path(path)
    # Only its own pattern, its name escaped: ".a.json.*.tmp" matched ".a.json.bak.json.123.tmp",
    # the save in progress of another session with its own lock, and "s[1].json" matched
    # another session's ".s1.json.*.tmp".
    own = re.compile(rf"\.{re.escape(real.name)}\.\d+\.tmp")
    for stale in real.parent.glob(f".{glob.escape(real.name)}.*.tmp"):
        if own.fullmatch(stale.name):
            with contextlib.suppress(OSError):
                stale.unlink()


def _lock_path(path: Path) -> Path:
    # Beside the file itself: through a link and by its own path, one lock.
    path = real_path(path)
    return path.with_name(f".{path.name}.lock")


def release_lock(path: Path, fd: int) -> None:
    """Give the lock up and leave no lock file behind: it is unlinked while still held, so a
    process waiting on the old file notices (see `acquire_lock`) and takes a fresh one."""
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_ino == os.stat(_lock_path(path)).st_ino:
            os.unlink(_lock_path(path))
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.close(fd)


def _same_file(fd: int, lock: Path) -> bool:
    """Whether `fd` is still the file at `lock` (a releasing holder unlinks it)."""
    try:
        return os.fstat(fd).st_ino == os.stat(lock).st_ino
    except FileNotFoundError:
        return False


# What flock says on a filesystem without locks (NFS without lockd, Lustre mounted noflock).
NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)


class LocksRefusedError(SessionError):
    """The filesystem refuses flock: nothing to wait for, and nothing another process holds."""


def acquire_lock(path: Path, wait_s: float) -> int:
    """Take the session's writer lock (an open fd; closing it releases the lock)."""
    lock = _lock_path(path)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a folder that is a file, or not writable: one line, not a crash
        not_dir = isinstance(exc, FileExistsError | NotADirectoryError)
        reason = "a part of that path is a file, not a folder" if not_dir else exc.strerror
        raise SessionError(
            f"cannot write a session at {path}: {reason}",
            "choose a path in a folder you can write",
        ) from None
    deadline = time.monotonic() + wait_s
    while True:
        try:
            # flock is released by the kernel when a process dies: a crash never leaves a stale lock.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = ""
                with contextlib.suppress(OSError, ValueError):
                    holder = f" (pid {int(os.pread(fd, 32, 0) or b'0')})"
                os.close(fd)
                raise SessionLockedError(
                    f"session {path} is in use by another psmlab process{holder}",
                    "close it there, or copy the file and work on the copy",
                ) from None
            time.sleep(0.05)
            continue
        except OSError as exc:
            os.close(fd)
            if exc.errno in NO_LOCKS:
                with contextlib.suppress(OSError):
                    os.unlink(lock)  # made to be locked, and never was
                raise LocksRefusedError(
                    f"{path.parent} refuses file locks ({exc.strerror})",
                    "run one psmlab process on it at a time",
                ) from None
            raise
        if not _same_file(fd, lock):  # its holder released it and unlinked it: start over
            os.close(fd)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        return fd
