"""A model's source directory as a deterministic tar.gz (the training toolkit's `sagemaker_submit_directory`),
and its data contract as a JSON file: the two model files synth ships as assets.

SageMaker's training toolkit downloads that S3 object and opens it with tarfile mode `r:gz`
(sagemaker-training-toolkit, files.download_and_extract); a CDK directory asset would be a zip.
The archive is built so that its bytes depend only on the files' paths and contents: entries
sorted, fixed modification time, owner and mode, no gzip timestamp. Its CDK asset hash, and with
it the training step's cache key, then change exactly when the code does.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Never shipped: interpreter caches and editor or VCS files.
_SKIPPED_PARTS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def source_files(source_dir: Path) -> list[Path]:
    """The regular files of `source_dir` that ship, sorted by their relative path."""
    files = []
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if _SKIPPED_PARTS & set(relative.parts) or path.suffix == ".pyc" or not path.is_file():
            continue
        if path.is_symlink():
            raise ValueError(f"{path} is a symbolic link; a model's source directory must hold regular files only.")
        files.append(path)
    return sorted(files, key=lambda p: p.relative_to(source_dir).as_posix())


def archive_bytes(source_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in source_files(source_dir):
            info = tarfile.TarInfo(path.relative_to(source_dir).as_posix())
            content = path.read_bytes()
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def write_archive(source_dir: Path, directory: Path) -> Path:
    """The archive, written once as <directory>/<sha256>.tar.gz (an unchanged source reuses it)."""
    return _write_once(archive_bytes(source_dir), directory, ".tar.gz")


def write_data_contract(document: Mapping[str, Any], directory: Path) -> Path:
    """The data contract as the steps read it, written once as <directory>/<sha256>.json (canonical JSON)."""
    content = json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"
    return _write_once(content, directory, ".json")


def _write_once(content: bytes, directory: Path, suffix: str) -> Path:
    target = directory / f"{hashlib.sha256(content).hexdigest()}{suffix}"
    if not target.exists():
        directory.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a parallel synth (test workers) never reads a half-written file.
        with tempfile.NamedTemporaryFile(dir=directory, delete=False) as partial:
            partial.write(content)
        os.replace(partial.name, target)
    return target
