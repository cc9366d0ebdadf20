"""Layers as a rule: app -> stacks -> constructs -> {pipeline_steps, mlopsctl, lambda} -> {config, contracts}.

Read from the source (AST), with every import counted: at module level, inside functions and
under TYPE_CHECKING, since each one is a dependency a reader must follow. An import may point
down any number of layers, never up, never sideways to another package of its own layer, and
no module may reach itself through others (a circle makes two modules one).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Top to bottom. A package may import from any layer below its own; within a layer, only itself.
# scripts/ holds make's helpers (list_templates.py), which read the cloud assembly like a tool.
# endpoint_deployment.py builds the DeploymentConfig both the CDK app and mlopsctl send: like
# contracts.py it imports only the standard library.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"app"}),
    frozenset({"stacks"}),
    frozenset({"constructs"}),
    frozenset({"pipeline_steps", "mlopsctl", "lambda", "scripts"}),
    frozenset({"config", "contracts", "endpoint_deployment"}),
)
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}
# The step scripts each run alone in a SageMaker container (pipeline_steps/scripts/__init__.py): below
# every layer, they import nothing of ours, not even config or contracts.
STEP_SCRIPTS_PACKAGE = "pipeline_steps.scripts"
# Code that never builds CDK constructs: the CLI, the function, the step scripts and builders, config.
WITHOUT_CDK = frozenset({"pipeline_steps", "mlopsctl", "lambda", "scripts", "config", "contracts"})
CDK_LIBRARIES = ("aws_cdk", "constructs", "cdk_nag", "jsii", "cdklabs")


@dataclass(frozen=True)
class Module:
    name: str  # dotted, as imported; a Lambda function's modules as lambda.<function>.<module>
    package: str  # its layer's package: the first part of the name
    path: Path


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Module]:
    files = [ROOT / f"{name}.py" for name in ("app", "contracts", "endpoint_deployment")]
    for package in ("config", "stacks", "constructs", "pipeline_steps", "mlopsctl", "lambda", "scripts"):
        files += sorted((ROOT / package).rglob("*.py"))
    found = {}
    for path in files:
        name = _module_name(path)
        found[name] = Module(name, name.split(".")[0], path)
    return found


def _resolve(module: Module, name: str) -> str | None:
    """The project module an import of `name` in `module` loads, or None for another library's."""
    known = modules()
    if module.package == "lambda":
        # The function's modules import each other as top-level modules, as on Lambda.
        sibling = f"{module.name.rsplit('.', 1)[0]}.{name.split('.')[0]}"
        if sibling in known:
            return sibling
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _imported_names(node: ast.Import | ast.ImportFrom, module: Module) -> Iterator[tuple[str, str | None]]:
    """(module name, the name taken from it or None) for each name one import statement loads."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, None
        return
    base = node.module or ""
    if node.level:
        package = module.name.split(".")[: -node.level] if module.path.name != "__init__.py" else []
        base = ".".join([*package, base] if base else package)
    for alias in node.names:
        # `from package import submodule` loads the submodule; any other name comes from the package.
        yield (f"{base}.{alias.name}", None) if f"{base}.{alias.name}" in modules() else (base, alias.name)


@dataclass(frozen=True)
class Import:
    source: Module
    target: str  # a project module, or another library's top-level name
    name: str | None  # the name taken, for `from x import name`
    line: int

    @property
    def where(self) -> str:
        return f"{self.source.path.relative_to(ROOT)}:{self.line}"


@cache
def imports() -> tuple[Import, ...]:
    found = []
    for module in modules().values():
        for node in ast.walk(ast.parse(module.path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for imported, name in _imported_names(node, module):
                    target = _resolve(module, imported) or imported.split(".")[0]
                    found.append(Import(module, target, name, node.lineno))
    return tuple(found)


def project_imports() -> list[Import]:
    return [i for i in imports() if i.target in modules()]


def test_the_layers_cover_every_package_and_module() -> None:
    assert {m.package for m in modules().values()} == set(RANK)
    some = {"app", "stacks.serving_stack", "mlopsctl.cli", "config.errors", "contracts", "pipeline_steps.checked_in"}
    some |= {f"{STEP_SCRIPTS_PACKAGE}.preprocess", f"{STEP_SCRIPTS_PACKAGE}.drift_check"}
    # The constructs' sub-folders (one per box of the flow) are portions of the one `constructs` layer.
    nested = {"constructs.storage.secure_bucket", "constructs.serving.guarded_endpoint"}
    assert some | nested | {"lambda.start_retraining.start_retraining"} <= set(modules())
    assert {modules()[name].package for name in nested} == {"constructs"}


def test_every_import_points_down_the_layers() -> None:
    wrong = set()
    for i in project_imports():
        source, target = i.source.package, modules()[i.target].package
        if source != target and RANK[source] >= RANK[target]:
            direction = "sideways" if RANK[source] == RANK[target] else "upwards"
            wrong.add(f"{i.where}: {i.source.name} imports {i.target} ({direction}: {source} -> {target})")
    assert not wrong, "\n".join(sorted(wrong))


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_reaches_itself_through_others() -> None:
    edges: dict[str, set[str]] = {}
    for i in project_imports():
        edges.setdefault(i.source.name, set()).add(i.target)
    assert _circles(edges) == []


def test_the_circle_finder_finds_a_circle() -> None:
    """The check above on a graph that has one, so an empty answer means something."""
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"a"}}) == [["a"]]


def test_sibling_constructs_share_no_constants() -> None:
    """A construct may compose another or call a building block's function; a constant two of them
    need lives in config or contracts.py, where every layer reads it."""
    shared = [
        f"{i.where}: {i.source.name} takes {i.name} from {i.target}"
        for i in project_imports()
        if i.source.package == "constructs" == modules()[i.target].package and i.name is not None and i.name.isupper()
    ]
    assert shared == [], "\n".join(shared)


def _is_step_script(module: Module) -> bool:
    return module.name == STEP_SCRIPTS_PACKAGE or module.name.startswith(f"{STEP_SCRIPTS_PACKAGE}.")


def test_step_scripts_import_nothing_of_ours() -> None:
    """Each is shipped alone to its job, where no module of ours exists: not a builder, not contracts.py."""
    scripts = [m for m in modules().values() if _is_step_script(m)]
    found = [f"{i.where}: {i.target}" for i in project_imports() if _is_step_script(i.source)]
    assert len(scripts) > 4 and found == [], "\n".join(found)


@pytest.mark.parametrize("package", sorted(WITHOUT_CDK))
def test_code_below_the_constructs_imports_no_cdk(package: str) -> None:
    """The CLI and the function run without the CDK; config, contracts and the steps never need it."""
    found = [f"{i.where}: {i.target}" for i in imports() if i.source.package == package and i.target in CDK_LIBRARIES]
    assert found == [], "\n".join(found)


def _imports_of(source: str, path: str = "constructs/example.py") -> list[tuple[str, str | None]]:
    module = Module(_module_name(ROOT / path), path.split("/")[0], ROOT / path)
    return [
        (_resolve(module, imported) or imported, name)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for imported, name in _imported_names(node, module)
    ]


def test_imports_in_functions_and_under_type_checking_count() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from stacks.serving_stack import ServingStack\n"
        "def f():\n    import app\n    from mlopsctl import cli\n    from config import AppConfig\n"
    )
    assert _imports_of(source) == [
        ("typing", "TYPE_CHECKING"),
        ("stacks.serving_stack", "ServingStack"),
        ("app", None),
        ("mlopsctl.cli", None),
        ("config", "AppConfig"),
    ]
    # The function's modules import each other as top-level names, as on Lambda.
    assert _imports_of("import trigger_events", "lambda/start_retraining/x.py") == [
        ("lambda.start_retraining.trigger_events", None)
    ]


def test_no_test_module_imports_another() -> None:
    """Helpers two test modules (or a conftest) share live in tests/support.py or a support module beside it."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            found += [f"{path.relative_to(ROOT)}:{node.lineno} imports {n}" for n in names if ".test_" in f".{n}"]
    assert found == [], "\n".join(found)
