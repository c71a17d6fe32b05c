"""The image builds the wheel from the folders pyproject.toml maps to packages: a folder the
Dockerfile does not copy makes the build fail (or, for a package-data folder, ship without it)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_image_copies_every_package_folder():
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    folders = {path.split("/")[0] for path in mapping.values()}
    copied = set(re.findall(r"^COPY (\S+) \./\1$", (ROOT / "Dockerfile").read_text(), flags=re.M))
    assert folders - copied == set()
