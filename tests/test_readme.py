"""The README and docs/ point at tests, make targets, files and each other; none of it may go stale.

The deploy policies in docs/bootstrap/ are checked in tests/test_deploy_policies.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Markdown links and images whose target is not a URL or a bare anchor.
RELATIVE_LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")


def page_ids() -> list[str]:
    return [str(page.relative_to(ROOT)) for page in PAGES]


def test_docs_pages_exist() -> None:
    names = {page.name for page in PAGES}
    assert {"configuration.md", "architecture.md", "operations.md", "benchmarks.md", "deploy.md"} <= names


def test_every_test_the_docs_name_exists() -> None:
    named = {name for page in PAGES for name in re.findall(r"`(test_[a-z0-9_]+)`", page.read_text())}
    defined = {
        match
        for path in (ROOT / "tests").rglob("test_*.py")
        for match in re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(), flags=re.MULTILINE)
    }
    assert named, "the docs name no tests"
    assert named <= defined, f"docs name tests that do not exist: {sorted(named - defined)}"


def test_every_make_target_the_docs_name_exists() -> None:
    named = {name for page in PAGES for name in re.findall(r"`make ([a-z-]+)", page.read_text())}
    makefile = (ROOT / "Makefile").read_text()
    defined = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    assert "synth" in named
    assert named <= defined, f"docs name make targets that do not exist: {sorted(named - defined)}"


def anchors(page: Path) -> set[str]:
    """The heading anchors GitHub generates: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=page_ids())
def test_every_relative_link_resolves_to_a_file_and_heading(page: Path) -> None:
    text = page.read_text()
    broken = []
    for target in RELATIVE_LINK.findall(text):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve()
        if not linked.is_file() or (anchor and linked.suffix == ".md" and anchor not in anchors(linked)):
            broken.append(target)
    broken += [f"#{anchor}" for anchor in re.findall(r"\]\(#([^)]+)\)", text) if anchor not in anchors(page)]
    assert not broken, f"{page.relative_to(ROOT)} has links to missing files or headings: {broken}"


def test_no_section_appears_twice_across_readme_and_docs() -> None:
    """Text moved to docs/ is moved, not copied: a heading lives on one page, once."""
    headings = [
        (page.relative_to(ROOT), heading)
        for page in PAGES
        for heading in re.findall(r"^#{2,3} .+$", page.read_text(), flags=re.MULTILINE)
    ]
    titles = [heading for _, heading in headings]
    repeated = sorted({f"{page}: {heading}" for page, heading in headings if titles.count(heading) > 1})
    assert not repeated, f"sections appear more than once: {repeated}"


def test_make_synth_example_uses_the_tests_example_release() -> None:
    from tests.conftest import EXAMPLE_RELEASE_ARN

    makefile = (ROOT / "Makefile").read_text()
    assert f"EXAMPLE_RELEASE := {EXAMPLE_RELEASE_ARN}\n" in makefile


def test_synth_listing_ends_with_how_to_see_the_serving_stacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts.list_templates import main

    def assembly(*stack_names: str) -> Path:
        directory = tmp_path / str(len(stack_names))
        directory.mkdir()
        artifacts = {
            name: {
                "type": "aws:cloudformation:stack",
                "environment": "aws://222222222222/eu-west-1",
                "properties": {"templateFile": f"{name}.template.json", "stackName": name},
            }
            for name in stack_names
        }
        (directory / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
        return directory

    assert main(["list_templates", str(assembly("mlops-delivery-dev-storage"))]) == 0
    last_line = capsys.readouterr().out.splitlines()[-1]
    assert "Not synthesized, no release: mlops-delivery-dev-serving (`make resolve-release ENV=<env>`" in last_line
    assert "make synth-example" in last_line

    # One environment with a release, one without: the missing one is named.
    storage_only = ("mlops-delivery-dev-storage", "mlops-delivery-dev-serving", "mlops-delivery-prod-storage")
    assert main(["list_templates", str(assembly(*storage_only))]) == 0
    assert "no release: mlops-delivery-prod-serving (" in capsys.readouterr().out.splitlines()[-1]

    assert main(["list_templates", str(assembly("mlops-delivery-dev-storage", "mlops-delivery-dev-serving"))]) == 0
    assert "make synth-example" not in capsys.readouterr().out


def test_node_22_is_recommended_and_node_20_runs_without_its_end_of_life_banner() -> None:
    """jsii prints an 11-line banner on every run under Node.js 20; the app command and make silence it."""
    assert "Node.js 22" in (ROOT / "README.md").read_text()
    app = json.loads((ROOT / "cdk.json").read_text())["app"]
    assert app == "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 .venv/bin/python app.py"
    assert "export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20\n" in (ROOT / "Makefile").read_text()
