"""Output files that appear whole or not at all.

Every result file is written to a temporary name in the destination folder and renamed into place only when
complete, so an error or interruption never leaves a half-written file behind. An output that is a symbolic
link is written through to the file it points to (the link stays); one that is a folder, device, pipe or
socket is refused, as is an output name ending in a path separator or ``-``.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from peakcnn.errors import InputError


def names_folder(name: str | os.PathLike) -> bool:
    """Whether the text of a path ends in a path separator, so that it can only name a folder."""
    text = os.fspath(name)
    return text.endswith(os.sep) or bool(os.altsep and text.endswith(os.altsep))


def check_output_name(name: str | os.PathLike, what: str = "output") -> None:
    """Fail in one line when the text of an output path cannot name a file: ``-`` (standard output is not
    written to) or a name ending in a path separator (a folder)."""
    text = os.fspath(name)
    if text == "-":
        raise InputError(f"-: results are not written to standard output; give a file name for the {what}")
    if names_folder(text):
        raise InputError(f"{text}: names a folder; give a file name for the {what}")


def destination(path: str | Path, what: str = "output") -> Path:
    """The file a write to ``path`` must replace: ``path`` itself, or for a symbolic link the file it points to
    (so the link stays and its target receives the content). Fails in one line when that is an existing
    folder or something other than a regular file (a device, pipe or socket), which a rename would destroy."""
    path = Path(path)
    target = folder_destination(path)
    if target.is_symlink():
        raise InputError(f"{path}: a symbolic link that leads to no file (a loop); give another {what} path")
    if target.is_dir():
        raise InputError(f"{path}: is a folder; give a file name for the {what}")
    if target.exists() and not target.is_file():
        raise InputError(
            f"{path}: exists and is not a regular file (a device, pipe or socket); give a file name for the {what}"
        )
    return target


def _temporary(path: Path) -> Path:
    """The temporary name :func:`atomic_output` writes ``path`` under (it keeps the extension)."""
    return path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")


#: Temporary names of outputs (``.x.tmp12.bw``, ``x.json.tmp``, ``.DIR.tmp-12``) and what they stand for.
_TEMPORARY_NAMES = (
    (re.compile(r"^\.(?P<stem>.+)\.tmp\d+(?P<suffix>\.[^.]*)?$"), r"\g<stem>\g<suffix>"),
    (re.compile(r"^\.(?P<name>.+)\.(?:tmp|old)-\d+$"), r"\g<name>"),
    (re.compile(r"^(?P<name>.+)\.tmp$"), r"\g<name>"),
)


def user_path(filename: str | os.PathLike) -> str:
    """The output a temporary name stands for (``dir/.x.tmp12.bw`` -> ``dir/x.bw``); other paths unchanged."""
    path = Path(filename)
    for pattern, replacement in _TEMPORARY_NAMES:
        if pattern.match(path.name):
            return str(path.with_name(pattern.sub(replacement, path.name)))
    return str(filename)


def os_error_message(e: OSError) -> str:
    """One line for a failed read or write: the file the user named (not a temporary name), the system's
    reason, and what to do about it."""
    reason = e.strerror or str(e)
    where = f"{user_path(e.filename)}: " if e.filename else ""
    advice = {
        errno.EACCES: "check its permissions or choose another path",
        errno.EPERM: "check its permissions or choose another path",
        errno.EROFS: "choose a path on a writable file system",
        errno.ENAMETOOLONG: "choose a shorter name",
        errno.ENOSPC: "free space or choose another path",
        errno.EDQUOT: "free space or choose another path",
        errno.EFBIG: "choose a path on another file system, or raise the file size limit (ulimit -f)",
        errno.ENOENT: "check the path",
    }.get(e.errno)
    return f"{where}{reason}" + (f"; {advice}" if advice else "")


def _check_name_length(path: Path, what: str) -> None:
    """Fail in one line when a name in ``path`` is longer than the file system takes (a stat of it fails so)."""
    try:
        os.lstat(path)
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise InputError(f"{path}: name too long for the file system; choose a shorter {what}") from None


def _probe(folder: Path, name: str, path, what: str) -> None:
    """Create and remove ``folder/name``: the write test that holds when ``os.access`` does not (root, sysfs,
    read-only mounts), and that finds a name too long for the file system."""
    try:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # a temporary file left by a killed run of the same process id
        return
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            raise InputError(f"{path}: name too long for the file system; choose a shorter {what} path") from None
        raise InputError(
            f"{path}: cannot write in folder {folder} ({e.strerror or e}); choose another {what} path"
        ) from None
    os.close(fd)
    os.unlink(folder / name)


def check_output(path: str | Path, what: str = "output") -> Path:
    """Fail early, in one line, when ``path`` cannot be written (see :func:`check_output_name` and
    :func:`destination`; missing or read-only folder, a name too long). Returns the file to replace (a link's
    target)."""
    check_output_name(path, what)
    _check_name_length(Path(path), f"{what} path")
    target = destination(path, what)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise InputError(f"{path}: {existing} is a file, not a folder; choose another {what} path")
        raise InputError(f"{path}: folder {parent} does not exist; create it or choose another {what} path")
    _probe(parent, _temporary(target).name, path, what)
    return target


def _file_key(path: Path) -> tuple:
    """What makes two paths one file: device and inode for an existing file (links, hard links), else the
    path with its links resolved."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:  # it does not exist (yet)
        return ("path", os.path.realpath(path))


def check_distinct_files(outputs: list[tuple[str, str | Path]], inputs: list[tuple[str, str | Path | None]]) -> None:
    """Fail in one line when an output is one of the inputs, or two outputs are the same file.

    ``outputs`` and ``inputs`` are ``(label, path)`` pairs, the label naming the option (``--out``); inputs
    given as ``None`` are skipped. Paths are compared after resolving links (and as files, for hard links),
    each once, so thousands of outputs (``ism`` of many sequences) are checked in linear time.
    """
    given = {}
    for in_label, inp in inputs:
        if inp is not None:
            given.setdefault(_file_key(Path(inp)), (in_label, Path(inp)))
    seen: dict[tuple, str] = {}
    for label, out in outputs:
        out = Path(out)
        key = _file_key(out)
        if key in given:
            in_label, inp = given[key]
            raise InputError(
                f"{out}: {label} is the same file as {in_label} ({inp}), which it would overwrite; "
                f"give {label} another file name"
            )
        if key in seen:
            raise InputError(f"{out}: {seen[key]} and {label} are the same file; give them different file names")
        seen[key] = label


def check_input_file(path: str | Path, what: str, option: str) -> Path:
    """Fail in one line unless ``path`` is an existing regular file (``what`` names it, ``option`` is the
    command-line option that gave it)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: {what} not found; pass an existing file with {option}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass a {what} with {option}")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file (a pipe or device); write the {what} to a file for {option}")
    return path


def check_output_folder(path: str | Path) -> Path:
    """Fail in one line when ``path``, an ``--out`` that names a folder, is an existing file, or cannot be
    made or written in (no permission, a read-only or special file system, a name too long)."""
    path = Path(path)
    _check_name_length(path, "--out")
    if path.is_file():
        raise InputError(f"{path}: is a file; give --out a folder name")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder (a device, pipe or socket); give --out a folder name")
    existing, missing = path.absolute(), []
    while not existing.exists():
        missing.append(existing.name)
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{path}: {existing} is a file, so the folder cannot be made; choose another --out folder")
    try:
        longest = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):  # no such limit here
        longest = None
    if longest and any(len(os.fsencode(name)) > longest for name in missing):
        raise InputError(f"{path}: name too long for the file system; choose a shorter --out")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".peakcnn-", dir=existing))
    except OSError as e:
        raise InputError(
            f"{path}: cannot write in folder {existing} ({e.strerror or e}); choose another --out"
        ) from None
    return path


def folder_destination(path: Path) -> Path:
    """The folder an output folder ``path`` is written as: ``path`` itself, or for a symbolic link the folder
    it points to (so the link stays, for instance to a scratch disk)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_not_current_folder(path: Path) -> None:
    """Refuse an output folder that is built aside and renamed into place as a whole when it is the current
    folder or holds it: such a folder cannot be renamed while in use. Compared by device and inode, so bind
    mounts and case-insensitive names are recognised."""
    try:
        here = Path(os.getcwd())
        target = os.stat(path)
    except OSError:  # no current folder (deleted), or no such output folder yet: nothing to protect
        return
    for folder in (here, *here.parents):
        with contextlib.suppress(OSError):
            if os.path.samestat(target, os.stat(folder)):
                raise InputError(
                    f"{path}: is the current folder or holds it, and would be replaced as a whole; give --out a "
                    "folder of its own, such as a new name inside it"
                )


def foreign_files(folder: Path, outputs) -> list[str]:
    """Names in ``folder`` other than ``outputs``."""
    return sorted(p.name for p in folder.iterdir() if p.name not in outputs)


def check_own_folder(folder: Path, outputs, writer: str) -> None:
    """Refuse an output folder that is a file, or a folder holding anything but ``outputs``, the files that
    ``writer`` (in words: "an evaluation") writes there: it is replaced as a whole."""
    check_output_folder(folder)
    if folder.is_dir():
        foreign = foreign_files(folder, outputs)
        if foreign:
            raise InputError(
                f"{folder}: holds files {writer} did not write ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}), and would be replaced; choose another --out folder"
            )


def remove_own_folder(folder: Path, outputs, marker: str, writer: str, command: str) -> bool:
    """Delete ``folder`` when it is a folder (not a link) holding ``marker`` and nothing but ``outputs`` (what
    ``writer``, in words, writes with ``command``): it describes a model being replaced. Warn and keep it when
    it holds other files. Returns whether it went."""
    import logging
    import shutil

    if not folder.is_dir() or folder.is_symlink() or not (folder / marker).is_file():
        return False
    foreign = foreign_files(folder, outputs)
    if foreign:
        logging.getLogger(__name__).warning(
            f"warning: {folder}: kept, as it holds files {writer} did not write ({', '.join(foreign[:3])}); it "
            f"describes the model being replaced, and {command} will not write over it: move those files out"
        )
        return False
    shutil.rmtree(folder)
    return True


def make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those made, deepest first, for
    :func:`remove_made_folders` to take back when the command fails before its output is complete."""
    made = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return made


def remove_made_folders(made: list[Path]) -> None:
    """Remove the folders :func:`make_folder` made, as far as they are empty."""
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()


@contextlib.contextmanager
def built_aside(folder: Path) -> Iterator[Path]:
    """A hidden temporary folder beside ``folder`` to fill in the block; renamed to ``folder`` (replacing
    it) when the block ends. On an error or interruption the temporary folder goes, and so do the parent
    folders made for it, as far as they are empty."""
    import shutil

    made = make_folder(folder.parent)
    tmp = temporary_folder(folder)  # this process's own: no one else's file or folder is touched
    try:
        tmp.mkdir()
        yield tmp
        replace_folder(tmp, folder)
    except BaseException:
        remove_made_folders(made)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def temporary_folder(folder: Path) -> Path:
    """The hidden name beside ``folder`` that this process builds it under (``.DIR.tmp-PID``)."""
    return folder.parent / f".{folder.name}.tmp-{os.getpid()}"


def replace_folder(tmp: Path, folder: Path) -> None:
    """Move the finished folder ``tmp`` to ``folder``, replacing what is there; if that last rename fails or
    a signal arrives between the two renames, the previous ``folder`` is put back."""
    import shutil

    old = folder.parent / f".{folder.name}.old-{os.getpid()}"
    try:
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException:  # a failed rename, or a signal between the two: the previous folder goes back
        if old.exists() and not folder.exists():
            os.replace(old, folder)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block succeeds, else delete it.

    The temporary name keeps the extension (``.x.tmp12.bw``) for writers that look at it.
    """
    path = check_output(path)  # a link's target: the rename replaces the target and keeps the link
    tmp = _temporary(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a synced temporary file and a rename (checkpoints, configs); a
    symbolic link's target receives the content."""
    path = destination(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_table(path: str | Path, header: list[str], rows, comment_header: bool = False, atomic: bool = True) -> int:
    """Write a tab-separated table atomically; ``rows`` is an iterable of sequences. Returns the row count.

    With ``comment_header`` the header line starts with ``#`` (BED convention). A name ending in ``.gz``
    is written gzip-compressed. ``atomic=False`` writes ``path`` directly: for a caller that already holds
    it as the temporary name of :func:`atomic_output` (a set of files renamed together).
    """
    n = 0
    gz = str(path).lower().endswith(".gz")
    with atomic_output(path) if atomic else contextlib.nullcontext(Path(path)) as tmp, _text_out(tmp, gz) as fh:
        fh.write(("#" if comment_header else "") + "\t".join(header) + "\n")
        for row in rows:
            fh.write("\t".join(map(str, row)) + "\n")
            n += 1
    return n


@contextlib.contextmanager
def _text_out(path, gz: bool) -> Iterator[io.TextIOBase]:
    if not gz:
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            yield fh
        return
    # Neither a timestamp nor a file name in the gzip header (the name would be the temporary one): the
    # same rows give the same bytes, and ``gunzip -N`` restores the name the file is given.
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as packed,
        io.TextIOWrapper(packed, encoding="utf-8", newline="\n") as fh,
    ):
        yield fh


def format_float(x: float) -> str:
    """Compact float formatting for tables (6 significant digits)."""
    return f"{x:.6g}"
