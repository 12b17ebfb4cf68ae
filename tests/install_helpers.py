"""dabench installed as a user installs it: a wheel built from this checkout's tracked files, in a
fresh virtual environment outside the checkout.

The fresh environment reuses this interpreter's installed dependencies through a ``.pth`` file of
plain paths (the site folders' own ``.pth`` files, the editable checkout's among them, are not
run), so building and installing need no network and install only the wheel.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("dabench/search_spaces/cdan.yaml", "dabench/benchmark_specs/tiny.yaml")
"""Package data the wheel must hold (what a sweep and a benchmark read)."""


def source_tree(destination: Path) -> Path:
    """The checkout's tracked files (what an sdist holds), copied to ``destination``."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                            check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, destination / name)
    return destination


def build_wheel(base: Path) -> Path:
    """A wheel built (offline, with this environment's setuptools) from a copy of the tracked
    files, so the checkout gets no ``build/`` folder; checked to hold :data:`SHIPPED`."""
    source = source_tree(base / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(base / "dist"), str(source)], check=True)  # fmt: skip
    (wheel,) = (base / "dist").glob("dabench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    missing = [name for name in SHIPPED if name not in names]
    assert not missing, f"{missing} not in the wheel"
    return wheel


def install(wheel: Path, environment: Path) -> Path:
    """A new virtual environment at ``environment`` with ``wheel`` installed, this interpreter's
    dependencies visible; its ``bin`` folder."""
    venv.create(environment, with_pip=False)
    paths = {"base": str(environment), "platbase": str(environment)}
    purelib = Path(sysconfig.get_path("purelib", vars=paths))
    ours = dict.fromkeys([*site.getsitepackages(), sysconfig.get_path("purelib")])
    (purelib / "dependencies.pth").write_text("\n".join(ours) + "\n")
    # --ignore-installed: the checkout's own (editable) dabench is visible through those paths
    subprocess.run([sys.executable, "-m", "pip", "--python", str(environment / "bin" / "python"),
                    "install", "--no-deps", "--no-index", "--ignore-installed", "-q", str(wheel)],
                   env=without_pythonpath(), check=True)  # fmt: skip
    assert (environment / "bin" / "dabench").is_file(), "the wheel installed no dabench script"
    return environment / "bin"


def without_pythonpath() -> dict[str, str]:
    """This process's environment without ``PYTHONPATH`` (which could point at a checkout)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run_installed(bin_folder: Path, cwd: Path, *args: str, timeout: float = 600):
    """``dabench ARGS`` from the installed environment, in ``cwd``, with no ``PYTHONPATH``."""
    environment = without_pythonpath()
    environment["PATH"] = f"{bin_folder}{os.pathsep}{environment['PATH']}"
    return subprocess.run([str(bin_folder / "dabench"), *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
