"""One job per file: no source file over 600 lines, except the step scripts that ship alone.

A step script is sent to its SageMaker job as one file (pipeline_steps/images.py, STEP_IMAGES), so
it cannot import a sibling module and holds what its step needs. Every other module can be split
where its jobs part; the complexity gate (ruff's C901 and PLR09xx, pyproject.toml) does the same
for functions.
"""

from __future__ import annotations

from pathlib import Path

from pipeline_steps.images import STEP_IMAGES
from tests.conftest import ROOT

MAX_LINES = 600
SHIPS_ALONE = {ROOT / "pipeline_steps" / "scripts" / f"{script}.py" for script in STEP_IMAGES}
PACKAGES = ("config", "stacks", "constructs", "pipeline_steps", "mlopsctl", "lambda", "scripts", "models")


def source_files() -> list[Path]:
    return [
        *sorted(ROOT.glob("*.py")),
        *(path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))),
    ]


def test_no_source_file_is_over_600_lines_but_the_step_scripts() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in source_files()
        if path not in SHIPS_ALONE and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these by job: {long}"


def test_the_exception_names_step_scripts_that_exist() -> None:
    assert SHIPS_ALONE and all(path.is_file() for path in SHIPS_ALONE)
    assert len(source_files()) > len(SHIPS_ALONE)
