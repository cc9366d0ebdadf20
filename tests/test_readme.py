"""The README's trap table points at tests; a renamed or deleted test must not leave a dead reference."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_every_test_the_readme_names_exists() -> None:
    named = set(re.findall(r"`(test_[a-z0-9_]+)`", (ROOT / "README.md").read_text()))
    defined = {
        match
        for path in (ROOT / "tests").rglob("test_*.py")
        for match in re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(), flags=re.MULTILINE)
    }
    assert named, "the README names no tests"
    assert named <= defined, f"README names tests that do not exist: {sorted(named - defined)}"


def test_every_make_target_the_readme_names_exists() -> None:
    named = set(re.findall(r"`make ([a-z-]+)", (ROOT / "README.md").read_text()))
    makefile = (ROOT / "Makefile").read_text()
    defined = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    assert named <= defined, f"README names make targets that do not exist: {sorted(named - defined)}"


def test_no_readme_section_appears_twice() -> None:
    headings = re.findall(r"^#{2,3} .+$", (ROOT / "README.md").read_text(), flags=re.MULTILINE)
    repeated = sorted({heading for heading in headings if headings.count(heading) > 1})
    assert not repeated, f"README repeats sections: {repeated}"
