"""What a run was made with and where: dabench's version and commit, the libraries' versions, the
command line and the machine — recorded as params of every sweep and seeds group, and in the
stamp of every document (:class:`dabench.reports.document.Stamp`)."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

from dabench import __version__
from dabench.records.store import redact
from dabench.reports.document import Stamp
from dabench.runtime import cpu_model


def machine() -> str:
    """This machine in a few words: OS, architecture, processor, CPU cores and GPUs."""
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    gpu_text = f"{len(gpus)}× {gpus[0]}" if gpus else "no GPU"
    return (f"{platform.system()} {platform.machine()}, {cpu_model()}, {os.cpu_count()} CPU "
            f"cores, {gpu_text}")  # fmt: skip


def git_commit() -> str | None:
    """The commit of the dabench checkout this runs from (``-dirty`` with uncommitted changes),
    or ``None`` for an installed package (whose folder may sit inside someone's repository: a
    virtual environment in a checkout) or a machine without git."""
    root = Path(__file__).resolve().parents[2]
    if not ((root / ".git").exists() and (root / "pyproject.toml").is_file()):
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=5)  # fmt: skip
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD"],
                               capture_output=True, timeout=5).returncode  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return commit.stdout.strip() + ("-dirty" if dirty else "")


def provenance() -> dict[str, str]:
    """Versions, git commit, command line (credentials in URIs hidden) and machine, for a parent
    run's params."""
    info = {"dabench_version": __version__, "python": sys.version.split()[0],
            "command": redact(" ".join(["dabench", *sys.argv[1:]])), "machine": machine()}  # fmt: skip
    for package in ("torch", "ray", "optuna", "mlflow"):
        info[f"version.{package}"] = metadata.version(package)
    commit = git_commit()
    if commit is not None:
        info["git_commit"] = commit
    return info


def stamp() -> Stamp:
    """Who renders a document now: the time, dabench's version and commit."""
    return Stamp(datetime.now(UTC), __version__, git_commit() or "unknown")
