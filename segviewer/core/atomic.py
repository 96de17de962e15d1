"""Write files so that a failure never leaves a partial file and nothing is clobbered."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from segviewer.core.errors import DiskFullError, MaskIOError, OutputExistsError


def _current_umask() -> int:
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# The mode a plain open(path, "w") would give (mkstemp makes owner-only files).
FILE_MODE = 0o666 & ~_current_umask()
# ".<name>.<pid>.<host tag>-<random>.part" (the tag is missing in older temporaries).
_PID_TEMP = re.compile(r"^\..+\.(\d+)\.(?:([0-9a-f]{8})-)?[^.]*\.part$")
# A temporary nobody holds a lock on is left alone this long, in case its writer sits on
# a file system that does not share locks (some NFS mounts) and is still alive.
STALE_AFTER_S = 600.0


def _host_tag() -> str:
    """Who can judge a writer by its PID: this host and PID namespace (containers and
    cluster nodes sharing a folder see other PIDs, or the same numbers for other
    processes)."""
    import hashlib
    import socket

    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}|{namespace}".encode()).hexdigest()[:8]


HOST_TAG = _host_tag()


def _describe(error: OSError) -> str:
    if error.errno == errno.ENOSPC:
        return "disk full"
    if error.errno == errno.EDQUOT:
        return "disk quota exceeded"
    if error.errno == errno.ENAMETOOLONG:
        return "output file name too long for this file system"
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (folder is not writable)"
    if error.errno == errno.EISDIR:
        return "a folder with that name exists"
    return error.strerror or str(error)


def _write_error(path: Path, error: OSError) -> MaskIOError:
    full = error.errno in (errno.ENOSPC, errno.EDQUOT)
    return (DiskFullError if full else MaskIOError)(path, _describe(error))


def write_atomic(path: Path, write: Callable[[BinaryIO], None], overwrite: bool = False) -> None:
    """Call ``write(file)`` on a temporary file beside ``path`` and move it into place.

    Without ``overwrite`` an existing ``path`` is an error and is left untouched; the
    no-clobber check and the move are one atomic ``link`` where the file system allows.
    Raises :class:`MaskIOError` naming ``path``.
    """
    path = Path(path)
    try:
        os.stat(path)  # ENAMETOOLONG and the like surface here, named for the output
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno != errno.ENOTDIR:
            raise MaskIOError(path, _describe(error)) from None
    if path.is_dir():
        raise MaskIOError(path, "a folder with that name exists")
    if not overwrite and path.exists():
        raise OutputExistsError(path, "file already exists (not overwritten)")
    folder = path.parent
    if not folder.is_dir():
        raise MaskIOError(path, f"folder {folder} does not exist")
    try:
        # The writer's process ID is in the name, so a later run can tell a temporary
        # left by a killed process (see remove_stale_temporaries) from one being written.
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.{HOST_TAG}-", suffix=".part",
                                             dir=folder)
    except OSError as error:
        raise _write_error(path, error) from None
    temp = Path(temp_name)
    # Held while the file is written: the kernel (and NFS's lock manager) releases it when
    # this process dies, whatever host or PID namespace it runs in.
    with contextlib.suppress(OSError):
        fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        os.fchmod(handle, FILE_MODE)
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        if overwrite:
            os.replace(temp, path)
        else:
            _link_no_clobber(temp, path)
    except MaskIOError:
        raise
    except OSError as error:
        raise _write_error(path, error) from None
    except Exception as error:
        raise MaskIOError(path, f"could not encode the file ({error})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def unwritable_reason(folder: Path) -> str | None:
    """Why files cannot be written into ``folder`` (created if missing), or None when a
    file can be: checked by writing one, since permission bits do not tell (root, ACLs,
    read-only mounts)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=".segviewer-write-check.", suffix=".tmp", dir=folder)
    except OSError as error:
        return f"{folder}: cannot write there ({_describe(error)})"
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def _link_no_clobber(temp: Path, path: Path) -> None:
    try:
        os.link(temp, path)
    except FileExistsError:
        raise OutputExistsError(path, "file already exists (not overwritten)") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # File systems without hard links (FAT, some network shares): best effort.
        if path.exists():
            raise OutputExistsError(path, "file already exists (not overwritten)") from None
        os.replace(temp, path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _locked_by_a_writer(path: Path) -> bool:
    """Whether some live process holds the writer's lock on ``path``."""
    try:
        with open(path, "rb+") as file:
            try:
                fcntl.lockf(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.lockf(file.fileno(), fcntl.LOCK_UN)
            return False
    except OSError:
        return True  # cannot tell: keep it


def is_stale_temporary(entry: Path, now: float | None = None) -> bool:
    """A temporary of :func:`write_atomic` whose writer is gone: nobody holds its lock,
    and either its writer was on this host and PID namespace and that PID is dead, or it
    has not changed for :data:`STALE_AFTER_S` (a writer elsewhere)."""
    match = _PID_TEMP.match(entry.name)
    if match is None:
        return False
    pid, tag = int(match.group(1)), match.group(2)
    if tag == HOST_TAG and pid == os.getpid():
        return False
    if _locked_by_a_writer(entry):
        return False
    if tag == HOST_TAG and not _process_alive(pid):
        return True
    try:
        age = (time.time() if now is None else now) - entry.stat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S


def remove_stale_temporaries(folder: Path) -> int:
    """Delete temporaries that :func:`write_atomic` left in ``folder`` when its process
    was killed (SIGKILL, power loss); see :func:`is_stale_temporary`. Safe for folders
    shared by jobs on other hosts or in other containers. Returns how many were removed;
    never raises."""
    removed = 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        if not is_stale_temporary(entry):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed += 1
    return removed
