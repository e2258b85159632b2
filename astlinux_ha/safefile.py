"""Writing files as root in a directory other users may write to, without being redirected.

keepalived's CVE-2018-19044/19045/19046 were this class of hole: a daemon running as root that
writes to a predictable name in a shared directory can be made to overwrite any file through a
planted symlink or hard link, or to leave its output readable by everyone. Everything here goes
through a directory descriptor opened without following a symlink, so the path is resolved
once; a file is replaced by writing a new one under a random name (O_EXCL|O_NOFOLLOW, so nothing
planted is ever opened), giving it its mode with fchmod (the umask does not decide) and
renaming it into place (a rename replaces a planted link instead of following it).
"""

from __future__ import annotations

import errno
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted under the journal's name must not hang the loop on open.
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TEMP_TRIES = 8


class UnsafePath(OSError):
    """A directory the daemon must not write into (a symlink, or owned by another user)."""


def open_dir(path: str | os.PathLike[str], *, create_mode: int | None = None) -> int:
    """Open directory ``path`` for ``*at`` calls; raises UnsafePath unless it is ours.

    The last component must not be a symlink and the directory must be owned by our euid. Its
    permissions are the admin's business: a group-writable directory shared with scripts stays
    usable, since nothing written through the descriptor follows what others put there. With
    ``create_mode`` a missing directory (and each missing parent) is created with exactly that
    mode.
    """
    created = False
    try:
        try:
            fd = os.open(path, _DIR_FLAGS)
        except FileNotFoundError:
            if create_mode is None:
                raise
            _make_dirs(os.path.abspath(path), create_mode)
            fd = os.open(path, _DIR_FLAGS)
            created = True
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(exc.errno, "is a symlink or not a directory", str(path)) from None
        raise
    owner = os.fstat(fd).st_uid
    if owner != os.geteuid():
        # Judged before anything is changed on it: a directory planted by someone else
        # meanwhile is refused as it is.
        os.close(fd)
        raise UnsafePath(errno.EPERM, f"is owned by uid {owner}, not by us", str(path))
    if created and create_mode is not None:
        os.fchmod(fd, create_mode)
    return fd


def _make_dirs(path: str, mode: int) -> None:
    """``mkdir -p`` with ``mode`` given to every directory made (the umask does not decide:
    under the daemon's 0177 a parent made 0600 would hide the state files from everyone)."""
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        _make_dirs(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        return
    os.chmod(path, mode, follow_symlinks=False)


def replace(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """Make ``name`` in ``dir_fd`` a new regular file holding ``data`` with ``mode``."""
    fd, tmp = _new_file(dir_fd, name, mode)
    try:
        try:
            _write_all(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


def open_append(dir_fd: int, name: str, mode: int) -> int:
    """An O_APPEND descriptor on ``name``, a regular file of ours with one link and ``mode``.

    Anything else under that name (a symlink, a FIFO, a hard link to another file, a file
    someone else made) is replaced by a new empty file, never opened for writing.
    """
    for _ in range(2):
        try:
            fd = os.open(name, _APPEND_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            fd = -1
        except OSError as exc:
            # ELOOP: a symlink; ENXIO: a FIFO with no reader; EISDIR and the like: replace it
            # all the same (a directory cannot be renamed over, and then this fails loudly).
            if exc.errno not in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise
            fd = -1
        if fd >= 0:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_nlink == 1:
                if stat.S_IMODE(st.st_mode) != mode:
                    os.fchmod(fd, mode)
                return fd
            os.close(fd)
        replace(dir_fd, name, b"", mode)
    raise UnsafePath(errno.EEXIST, "keeps being replaced by someone else", name)


def rename(dir_fd: int, old: str, new: str) -> None:
    """Rename within ``dir_fd`` (a rename never follows a link at either name)."""
    os.rename(old, new, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def size(dir_fd: int, name: str) -> int:
    """The size of ``name`` in ``dir_fd`` without following a link; 0 when absent."""
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_size
    except FileNotFoundError:
        return 0


def temp_name(name: str) -> str:
    """A hidden, unguessable name to create ``name``'s new content under before the rename.

    From :func:`os.urandom` (what :mod:`secrets` uses) without importing secrets, whose hmac
    import maps libcrypto (astlinux_ha.no_tls).
    """
    return f".{name}.{os.urandom(8).hex()}"


def _new_file(dir_fd: int, name: str, mode: int) -> tuple[int, str]:
    for _ in range(_TEMP_TRIES):
        tmp = temp_name(name)
        try:
            fd = os.open(tmp, _NEW_FLAGS, 0o600, dir_fd=dir_fd)
        except FileExistsError:
            continue
        os.fchmod(fd, mode)
        return fd, tmp
    raise FileExistsError(errno.EEXIST, "no free temporary name", name)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
