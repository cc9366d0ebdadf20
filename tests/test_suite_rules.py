"""The test suite's own rules: every test that synthesizes declares its tier, and the shared
botocore loader, which keeps the moto tests and the SDK builds fast, is in place.

Tiers (pyproject.toml's markers): a test that asks for a session layout or an app.py run is in
that fixture's tier (conftest.FIXTURE_TIERS); a test that builds a CDK app of its own says
`template`, on itself or for its module (`pytestmark`). This reads each test module and refuses a
test that builds an app (directly, through a helper or a fixture of its module) without either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import botocore.loaders
import botocore.session
import pytest

from tests.conftest import FIXTURE_TIERS, ROOT, cli_environment

# Calls that build a CDK app: the App itself and the helpers that make one.
BUILDERS = {"App", "synth", "stage_for", "build_app"}
TIERS = {"template", "slow"}


def _marks(decorators: list[ast.expr]) -> set[str]:
    """The pytest marks among `decorators` (`@pytest.mark.template`, `@pytest.mark.slow(...)`)."""
    found = set()
    for decorator in decorators:
        node = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "mark":
            found.add(node.attr)
    return found


def _module_marks(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            values = node.value.elts if isinstance(node.value, ast.List | ast.Tuple) else [node.value]
            return {v.attr for v in values if isinstance(v, ast.Attribute)}
    return set()


def _literals(node: ast.expr, constants: dict[str, ast.expr]) -> set[object] | None:
    """The constants of a literal list or tuple, or of the module constant it names; None otherwise."""
    node = constants.get(node.id, node) if isinstance(node, ast.Name) else node
    if isinstance(node, ast.List | ast.Tuple) and all(isinstance(v, ast.Constant) for v in node.elts):
        return {v.value for v in node.elts if isinstance(v, ast.Constant)}
    return None


def _parameters(function: ast.FunctionDef, constants: dict[str, ast.expr]) -> dict[str, set[object] | None]:
    """argname -> the values `@pytest.mark.parametrize(argnames, cases)` gives it (None: not literal).

    argnames is "a", "a, b" or ("a", "b"); with more than one, each case is a tuple of values.
    """
    found: dict[str, set[object] | None] = {}
    for decorator in function.decorator_list:
        if not (isinstance(decorator, ast.Call) and len(decorator.args) == 2 and "parametrize" in _marks([decorator])):
            continue
        names, cases = decorator.args
        if isinstance(names, ast.Constant):
            argnames = [name.strip() for name in str(names.value).split(",")]
        else:
            argnames = [str(e.value) for e in getattr(names, "elts", []) if isinstance(e, ast.Constant)]
        if len(argnames) == 1:
            found[argnames[0]] = _literals(cases, constants)
            continue
        rows = [c.elts for c in getattr(cases, "elts", []) if isinstance(c, ast.Tuple | ast.List)]
        for position, argname in enumerate(argnames):
            found[argname] = _literals(ast.Tuple(elts=[row[position] for row in rows]), constants)
    return found


def _asks_unseen(call: ast.Call, function: ast.FunctionDef, constants: dict[str, ast.expr]) -> bool:
    """Whether `request.getfixturevalue(...)` may ask for a session layout conftest cannot see.

    conftest sees a layout's name given as a parameter of the test; a name written in the call,
    or one it cannot read, it does not see.
    """
    (arg,) = call.args or [None]
    if isinstance(arg, ast.Constant):
        return arg.value in FIXTURE_TIERS
    asked = _parameters(function, constants).get(arg.id) if isinstance(arg, ast.Name) else None
    return asked is None or (bool(asked & set(FIXTURE_TIERS)) and not asked <= set(FIXTURE_TIERS))


def _builds(function: ast.FunctionDef, helpers: set[str], constants: dict[str, ast.expr]) -> bool:
    """Whether `function` builds an app itself, through a helper or fixture in `helpers`, or by asking
    for a fixture by a name conftest cannot see (a parametrized session layout it can: FIXTURE_TIERS)."""
    if {arg.arg for arg in function.args.args} & helpers:
        return True
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in BUILDERS | helpers:
            return True
        if name == "getfixturevalue" and _asks_unseen(node, function, constants):
            return True
    return False


def undeclared(source: str) -> list[str]:
    """The tests of a module that build a CDK app without declaring the template or slow tier."""
    tree = ast.parse(source)
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    constants = {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    helpers: set[str] = set()
    # Helpers and fixtures of the module that build an app, through one another too.
    while True:
        more = {
            n
            for n, f in functions.items()
            if not n.startswith("test_") and n not in helpers and _builds(f, helpers, constants)
        }
        if not more:
            break
        helpers |= more
    if _module_marks(tree) & TIERS:
        return []
    return [
        name
        for name, function in functions.items()
        if name.startswith("test_")
        and _builds(function, helpers, constants)
        and not _marks(function.decorator_list) & TIERS
        # A session layout or app.py run as an argument: conftest puts the test in its tier.
        and not {arg.arg for arg in function.args.args} & set(FIXTURE_TIERS)
    ]


def modules_under_test() -> list[Path]:
    return sorted((ROOT / "tests").rglob("test_*.py"))


@pytest.mark.parametrize("path", modules_under_test(), ids=lambda p: str(p.relative_to(ROOT / "tests")))
def test_every_test_that_builds_an_app_declares_its_tier(path: Path) -> None:
    assert undeclared(path.read_text()) == [], "mark them @pytest.mark.template (or the module's pytestmark)"


def test_the_tier_check_sees_apps_built_directly_through_helpers_and_fixtures() -> None:
    source = """
import pytest
import aws_cdk as cdk

def _stack():
    return cdk.Stack(cdk.App(), "S")

@pytest.fixture
def stack():
    return _stack()

def test_direct(): cdk.App()
def test_helper(): _stack()
def test_fixture(stack): pass
def test_unit(): assert 1 + 1 == 2
@pytest.mark.template
def test_declared(): cdk.App()
def test_session_layout(assembly): pass
def test_by_name(request): request.getfixturevalue("assembly")
"""
    assert undeclared(source) == ["test_direct", "test_helper", "test_fixture", "test_by_name"]
    assert undeclared("import pytest\npytestmark = pytest.mark.template\n" + source) == []


def test_every_botocore_session_shares_one_loader_per_data_path() -> None:
    """conftest's session fixture shares the service-model loader (moto builds a session per test)."""
    first, second = botocore.session.Session(), botocore.session.Session()
    assert first.get_component("data_loader") is second.get_component("data_loader")
    # The SageMaker SDK's endpoint lookups (image URIs) create theirs with botocore.loaders.
    assert botocore.loaders.create_loader() is botocore.loaders.create_loader()


def test_app_py_runs_as_a_users_synth_with_cdks_built_in_validation(tmp_path: Path) -> None:
    """The tests' own synths turn CDK's built-in CloudFormation validation off (tests/conftest.py); app.py as
    the CLI runs it must not inherit that, so the slow tier's app.py runs gate on it as a user's synth does."""
    import os

    assert os.environ["CDK_VALIDATION"] == "false"
    environment = cli_environment({"key": "value"}, tmp_path)
    assert "CDK_VALIDATION" not in environment
    assert environment["CDK_OUTDIR"] == str(tmp_path) and environment["CDK_CONTEXT_JSON"] == '{"key": "value"}'
