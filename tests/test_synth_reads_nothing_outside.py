"""Synth reads no clock, no environment variable and no network: a static ban on the code synth runs.

`cdk synth` must give the same templates on any machine at any time (DESIGN.md: "no AWS calls,
clock or git look-ups inside cdk synth"). The dynamic check in test_app_gates.py moves the
Python clock and refuses sockets, but a clock it does not move (`datetime.now()`) or a variable it
does not unset would still pass there; this reads the source instead. Banned, by their resolved
names (imports and aliases followed), whether called or passed on: the clock (`time.*`,
`datetime.now/utcnow/today`, `date.today`), the environment (`os.environ`, `os.getenv`, ...) and
every way out (sockets, HTTP clients, the AWS SDK, subprocesses).

Three exceptions, each named here: app.py may read the `CDK_DEFAULT_*` variables the CDK CLI sets
(STYLE.md 2: a sandbox's account and region); app.py's `main` may read the monotonic clock for the
elapsed seconds of its progress lines on stderr, which `build_app` (what makes the templates)
never sees; config/instances.py reads the instance types SageMaker accepts from botocore's
bundled service model, a file, through botocore's loader (it makes no client).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# What synth runs: the app and the layers under it that build templates, plus the modules of
# pipeline_steps/ and the standard-library modules that synth imports.
SYNTH_STEP_MODULES = ("checked_in", "source_archive", "images")
SCOPE = (
    ROOT / "app.py",
    ROOT / "contracts.py",
    ROOT / "endpoint_deployment.py",
    *sorted((ROOT / "config").rglob("*.py")),
    *sorted((ROOT / "stacks").rglob("*.py")),
    *sorted((ROOT / "constructs").rglob("*.py")),
    *(ROOT / "pipeline_steps" / f"{name}.py" for name in SYNTH_STEP_MODULES),
)

CLOCK = {
    *(
        f"time.{name}"
        for name in (
            "time",
            "time_ns",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
            "process_time",
            "localtime",
            "gmtime",
            "ctime",
            "asctime",
            "strftime",
        )
    ),
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.datetime.today",
    "datetime.date.today",
}
ENVIRONMENT = {"os.environ", "os.environb", "os.getenv", "os.getenvb", "os.putenv", "os.unsetenv"}
# Modules that reach the network or other processes, and the os functions that start processes.
WAYS_OUT = (
    "socket",
    "ssl",
    "http.client",
    "urllib.request",
    "urllib3",
    "requests",
    "httpx",
    "aiohttp",
    "boto3",
    "botocore",
    "ftplib",
    "smtplib",
    "subprocess",
    "multiprocessing",
)
PROCESSES = {"os.system", "os.popen", "os.startfile", *(f"os.{p}{s}" for p in ("exec", "spawn") for s in ("l", "v"))}

# (file, module) -> why it may import it.
ALLOWED_IMPORTS = {
    ("config/instances.py", "botocore.session"): "botocore's bundled sagemaker service model, read from its files",
}
# (file, enclosing function, name) -> why it is allowed there.
ALLOWED_CLOCK = {
    ("app.py", "main", "time.monotonic"): "elapsed seconds on progress lines (stderr), never in a template",
}
CDK_CLI_VARIABLES = "CDK_DEFAULT_"


def _names(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from every import of the module."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, names: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


def _within(name: str | None, banned_names: set[str]) -> str | None:
    """The banned name that `name` is or is an attribute of (`os.environ.get` is `os.environ`)."""
    return next((b for b in sorted(banned_names) if name is not None and (name == b or name.startswith(f"{b}."))), None)


def _reads_a_cdk_cli_variable(node: ast.expr, parents: dict[ast.AST, ast.AST]) -> bool:
    """`os.environ["CDK_DEFAULT_..."]`, `os.environ.get("CDK_DEFAULT_...")` or `os.getenv("CDK_DEFAULT_...")`."""
    parent = parents.get(node)
    if isinstance(parent, ast.Subscript) and parent.value is node:
        key: ast.expr | None = parent.slice
    elif isinstance(parent, ast.Call) and parent.func is node:
        key = parent.args[0] if parent.args else None
    else:
        return False
    return isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith(CDK_CLI_VARIABLES)


def _functions(tree: ast.Module) -> dict[ast.AST, str]:
    """Each node -> the name of the outermost function that holds it."""
    owner: dict[ast.AST, str] = {}
    for top in tree.body:
        if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in ast.walk(top):
                owner[node] = top.name
    return owner


def banned(source: str, filename: str) -> list[str]:
    """What `source` (the file `filename`, relative to the root) reads that synth may not."""
    tree = ast.parse(source)
    names, owner = _names(tree), _functions(tree)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [
                f"{filename}:{node.lineno} imports {m}"
                for m in modules
                if m.startswith(WAYS_OUT) and (filename, m) not in ALLOWED_IMPORTS
            ]
            continue
        if not isinstance(node, ast.Attribute | ast.Name) or isinstance(parents.get(node), ast.Attribute):
            continue  # only whole dotted names, each once
        name = _dotted(node, names)
        where = f"{filename}:{node.lineno}"
        clock, environment, process = (_within(name, kind) for kind in (CLOCK, ENVIRONMENT, PROCESSES))
        if clock and (filename, owner.get(node), clock) not in ALLOWED_CLOCK:
            found.append(f"{where} reads the clock ({clock})")
        elif environment and not (filename == "app.py" and _reads_a_cdk_cli_variable(node, parents)):
            found.append(f"{where} reads the environment ({environment})")
        elif process:
            found.append(f"{where} starts a process ({process})")
    return found


@pytest.mark.parametrize("path", SCOPE, ids=lambda p: str(p.relative_to(ROOT)))
def test_synth_code_reads_no_clock_environment_or_network(path: Path) -> None:
    assert banned(path.read_text(), str(path.relative_to(ROOT))) == []


def test_synth_imports_no_other_step_module() -> None:
    """The pipeline_steps modules in the scope are all that synth's code imports from there."""
    imported = {
        node.module.split(".")[1] if node.module.count(".") else alias.name
        for path in SCOPE
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pipeline_steps")
        for alias in node.names
    }
    assert imported <= set(SYNTH_STEP_MODULES), imported


@pytest.mark.parametrize(
    ("source", "reported"),
    [
        ("import datetime\nd = f'built {datetime.datetime.now()}'", "reads the clock (datetime.datetime.now)"),
        ("from datetime import datetime as when\nx = when.now", "reads the clock (datetime.datetime.now)"),
        ("from datetime import date\nx = date.today()", "reads the clock (datetime.date.today)"),
        ("from time import time\nx = time()", "reads the clock (time.time)"),
        ("import os\nx = os.environ['AWS_REGION']", "reads the environment (os.environ)"),
        ("from os import getenv\nx = getenv('HOME')", "reads the environment (os.getenv)"),
        ("import boto3", "imports boto3"),
        ("from urllib.request import urlopen", "imports urllib.request"),
        ("import subprocess", "imports subprocess"),
        ("import os\nos.system('git rev-parse HEAD')", "starts a process (os.system)"),
    ],
)
def test_the_ban_finds_each_way_synth_could_read_outside(source: str, reported: str) -> None:
    (found,) = banned(source, "constructs/example.py")
    assert found.endswith(reported)


def test_the_exceptions_hold_for_app_py_only_and_only_where_named() -> None:
    reads = (
        "import os, time\n"
        "def main():\n    started = time.monotonic()\n    a = os.environ['CDK_DEFAULT_ACCOUNT']\n"
        "    r = os.environ.get('CDK_DEFAULT_REGION')\n    g = os.getenv('CDK_DEFAULT_REGION')\n"
    )
    assert banned(reads, "app.py") == []
    assert len(banned(reads, "stacks/example.py")) == 4
    in_build = "import os, time\ndef build_app():\n    t = time.monotonic()\n    p = os.environ['AWS_PROFILE']\n"
    assert [line.split(" ", 1)[1] for line in banned(in_build, "app.py")] == [
        "reads the clock (time.monotonic)",
        "reads the environment (os.environ)",
    ]
