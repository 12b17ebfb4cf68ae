"""Where Ray keeps the state of a sweep or a benchmark (``--storage``): a local folder or any
filesystem URI Ray accepts (``file:///shared/ray``, ``s3://bucket/ray``, ``gs://...``), through
``pyarrow.fs`` as Ray itself does.

On a multi-node cluster the storage must be reachable from every node (a shared folder or an
object store), so that a resumed run finds the checkpoints of trials that ran on other nodes and
can continue from any node. Local paths are made absolute (Ray requires it); URIs are kept as
given.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any


def is_uri(storage: str) -> bool:
    """Whether ``storage`` is a filesystem URI (``scheme://...``) rather than a local path."""
    return "://" in storage


def resolve(storage: str) -> str:
    """``storage`` as Ray wants it: an absolute local path, or the URI unchanged."""
    if is_uri(storage):
        return storage.rstrip("/")
    return str(Path(storage).expanduser().resolve())


def join(storage: str, *parts: str) -> str:
    """``storage``/``parts``, for a path or a URI alike."""
    return "/".join([storage.rstrip("/"), *parts])


def parent(location: str) -> str:
    """The folder (or URI prefix) that holds ``location``."""
    return location.rstrip("/").rsplit("/", 1)[0]


def filesystem(location: str) -> tuple[Any, str]:
    """The ``pyarrow.fs`` filesystem of ``location`` and the path within it; raises
    ``ValueError`` naming the location for a URI that no filesystem understands."""
    import pyarrow.fs

    try:
        return pyarrow.fs.FileSystem.from_uri(resolve(location))
    except (pyarrow.ArrowInvalid, OSError) as error:
        raise ValueError(f"--storage {location}: {error}") from None


def exists(location: str) -> bool:
    import pyarrow.fs

    fs, path = filesystem(location)
    return fs.get_file_info(path).type != pyarrow.fs.FileType.NotFound


def read_text(location: str) -> str | None:
    """The text of the file at ``location``, or ``None`` if there is none."""
    if not exists(location):
        return None
    fs, path = filesystem(location)
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def write_text(location: str, text: str) -> None:
    """Write ``text`` to the file at ``location`` (its folder is created), replacing it whole:
    locally through a temporary file and a rename, on object stores in one upload."""
    fs, path = filesystem(location)
    fs.create_dir(parent(path), recursive=True)
    if is_uri(location) and not location.startswith("file://"):
        with fs.open_output_stream(path) as stream:
            stream.write(text.encode())
        return
    partial = f"{path}.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(partial) as stream:
        stream.write(text.encode())
    fs.move(partial, path)


def check_writable(storage: str) -> None:
    """Refuse, before anything runs, a storage that cannot be written (read-only folder, no
    permission, disk full, an unknown URI scheme, an unreachable bucket): create the folder and
    write and delete a probe file there."""
    fs, path = filesystem(storage)
    probe = join(path, f".dabench-probe-{uuid.uuid4().hex}")
    try:
        fs.create_dir(path, recursive=True)
        with fs.open_output_stream(probe) as stream:
            stream.write(b"probe")
        fs.delete_file(probe)
    except OSError as error:
        raise ValueError(f"--storage {storage}: cannot write there ({error})") from None


def upload(local: Path, location: str) -> None:
    """Copy the file ``local`` to ``location``, replacing it whole (see :func:`write_text`)."""
    fs, path = filesystem(location)
    fs.create_dir(parent(path), recursive=True)
    target = (
        path
        if is_uri(location) and not location.startswith("file://")
        else (f"{path}.{uuid.uuid4().hex}.tmp")
    )
    with open(local, "rb") as source, fs.open_output_stream(target) as stream:
        while chunk := source.read(1 << 24):
            stream.write(chunk)
    if target != path:
        fs.move(target, path)


def download(location: str, local: Path) -> bool:
    """Copy the file at ``location`` to ``local`` (its folder is created); ``False`` if there is
    no such file."""
    if not exists(location):
        return False
    fs, path = filesystem(location)
    local.parent.mkdir(parents=True, exist_ok=True)
    with fs.open_input_stream(path) as stream, open(local, "wb") as target:
        while chunk := stream.read(1 << 24):
            target.write(chunk)
    return True


def delete(location: str) -> None:
    """Delete the file at ``location`` if there is one."""
    if exists(location):
        fs, path = filesystem(location)
        fs.delete_file(path)


def delete_tree(location: str) -> None:
    """Delete the folder at ``location`` and everything in it, if it exists."""
    if exists(location):
        fs, path = filesystem(location)
        fs.delete_dir(path)
