"""Every command the docs tell a reader to run exists, with the options they give it.

The fenced shell blocks of README.md and docs/*.md are read as a shell would split them (line
continuations, `&&`, `;`, pipes, `$(...)`, `for ... do ... done`); `<placeholders>` count as one
word. Then:

- `aws <service> <operation> --options`: the operation and every option against botocore's
  service model, as the AWS CLI derives its commands from it (the kebab-case of the operation's
  and its input members' names), with the CLI's global and pagination options; every required
  member is given, and a literal value meets the member's constraints (tests/aws_contract.py).
- `npx cdk <command> --options`: against the options the pinned CDK CLI lists in
  `npx cdk <command> --help` (read once per test run, offline), and each stack selector matches
  a stack of the layout the command synthesizes (the sandbox's with `-c mlops-settings=...`).
- `python -m mlopsctl ...`: parsed by the CLI's own Click command, which refuses unknown
  options and missing arguments without running anything.
- `make <target>`: a target of the Makefile.
- a path into this repository (`docs/bootstrap/...`, `file://...`): a file that is there.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from tests import support
from tests.aws_contract import violations
from tests.conftest import ROOT, Assembly, _once_per_run

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_PLACEHOLDER = "PLACEHOLDER"
# The AWS CLI's global options (aws help, "Global Options") and those of paginated operations.
AWS_GLOBAL = {
    "--debug", "--endpoint-url", "--no-verify-ssl", "--no-paginate", "--output", "--query", "--profile",
    "--region", "--version", "--color", "--no-sign-request", "--ca-bundle", "--cli-read-timeout",
    "--cli-connect-timeout", "--cli-binary-format", "--no-cli-pager", "--cli-input-json", "--cli-input-yaml",
    "--generate-cli-skeleton",
}  # fmt: skip
AWS_PAGINATION = {"--max-items", "--starting-token", "--page-size"}
# The AWS CLI's own s3 commands (not in botocore's model): the ones the docs use and their options.
AWS_S3_COMMANDS = {"cp": {"--recursive", "--sse", "--sse-kms-key-id", "--exclude", "--include"}, "ls": {"--recursive"}}
# CLI service names that differ from botocore's.
AWS_SERVICE_ALIASES = {"s3api": "s3"}
# Shell words that start no command of their own.
_SHELL_WORDS = {"do", "then", "else", "done", "fi", "time"}
_NOT_CHECKED = {"echo", "export", "cd", "jq", "cat", "git", "sed", "curl", "head", "tar"}
# Top-level folders that commands create or that hold installs, not repository files.
_NOT_IN_REPOSITORY = {"node_modules", "cdk.out", "releases"}


@dataclass(frozen=True)
class Command:
    page: str
    words: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.page}: {shlex.join(self.words)}"


def _substitutions(line: str) -> tuple[str, list[str]]:
    """`line` with each `$(...)` replaced by a placeholder word, and the commands inside them."""
    inner: list[str] = []
    out, depth, start = [], 0, 0
    i = 0
    while i < len(line):
        if line.startswith("$(", i):
            if depth == 0:
                out.append(line[start:i])
                start = i + 2
            depth += 1
            i += 2
            continue
        if line[i] == ")" and depth:
            depth -= 1
            if depth == 0:
                inner.append(line[start:i])
                out.append(_PLACEHOLDER)
                start = i + 1
        i += 1
    out.append(line[start:])
    return "".join(out), inner


def shell_blocks(text: str) -> Iterator[str]:
    """The text of each fenced block marked bash, sh or shell."""
    block: list[str] | None = None
    language = ""
    for line in text.splitlines():
        fence = re.match(r"^\s*```(\w*)", line)
        if fence and block is None:
            block, language = [], fence.group(1)
        elif fence and block is not None:
            if language in ("bash", "sh", "shell"):
                yield "\n".join(block)
            block = None
        elif block is not None:
            block.append(line)


def _logical_lines(block: str) -> Iterator[str]:
    """The block's lines, joined where a backslash continues one or a quote spans several."""
    pending = ""
    for line in block.replace("\\\n", " ").splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:
            continue
        yield pending
        pending = ""
    if pending:
        raise ValueError(f"unclosed quotation: {pending}")


def commands_of(text: str, page: str) -> Iterator[Command]:
    for block in shell_blocks(text):
        for line in _logical_lines(block):
            yield from _commands_of_line(line, page)


def _commands_of_line(line: str, page: str) -> Iterator[Command]:
    line = re.sub(r"<[^<>]*>", _PLACEHOLDER, line)
    line, inner = _substitutions(line)
    for nested in inner:
        yield from _commands_of_line(nested, page)
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    words: list[str] = []
    for word in [*lexer, ";"]:
        if word not in {";", "&&", "||", "|", "&"}:
            words.append(word)
            continue
        while words and (words[0] in _SHELL_WORDS or re.match(r"^[A-Z_][A-Z0-9_]*=", words[0])):
            words.pop(0)
        if words and words[0] not in ("for", "while", "if"):
            yield Command(page, tuple(words))
        words = []


def all_commands() -> list[Command]:
    return [command for page in PAGES for command in commands_of(page.read_text(), str(page.relative_to(ROOT)))]


def _program(command: Command) -> str:
    words = command.words
    if words[:2] == ("npx", "cdk") or words[:3] == ("npx", "--no-install", "cdk"):
        return "cdk"
    if "-m" in words and words[words.index("-m") + 1 : words.index("-m") + 2] == ("mlopsctl",):
        return "mlopsctl"
    return Path(words[0]).name


# --- aws ------------------------------------------------------------------------------------------


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def _options(words: tuple[str, ...]) -> dict[str, str | None]:
    """`--option value` pairs (None for a flag) of a command's words."""
    found: dict[str, str | None] = {}
    for index, word in enumerate(words):
        if word.startswith("--"):
            name, _, value = word.partition("=")
            following = words[index + 1] if index + 1 < len(words) else None
            found[name] = value or (following if following is not None and not following.startswith("--") else None)
    return found


def aws_problems(command: Command) -> list[str]:
    words = command.words
    service_name, operation_name = words[1], words[2]
    options = _options(words[3:])
    if service_name == "s3":
        known = AWS_S3_COMMANDS.get(operation_name)
        if known is None:
            return [f"aws s3 has no command {operation_name!r} here"]
        return [f"unknown option {name}" for name in options if name not in known | AWS_GLOBAL]
    model = _service_model(AWS_SERVICE_ALIASES.get(service_name, service_name))
    operations = {xform_name(name, "-"): name for name in model.operation_names}
    if operation_name == "wait":
        # `aws <service> wait <waiter>` polls the waiter's operation with the same options.
        waiters = botocore.session.get_session().get_waiter_model(model.service_name)
        by_name = {xform_name(name, "-"): name for name in waiters.waiter_names}
        if words[3] not in by_name:
            return [f"{service_name} has no waiter {words[3]!r}"]
        operation_name = xform_name(waiters.get_waiter(by_name[words[3]]).operation, "-")
        options = _options(words[4:])
    if operation_name not in operations:
        return [f"{service_name} has no operation {operation_name!r}"]
    operation = model.operation_model(operations[operation_name])
    members = operation.input_shape.members if operation.input_shape else {}
    by_option = {f"--{xform_name(name, '-')}": name for name in members}
    booleans = {f"--no-{xform_name(n, '-')}": n for n, shape in members.items() if shape.type_name == "boolean"}
    paginated = botocore.session.get_session().get_paginator_model(model.service_name)
    extra = AWS_PAGINATION if _has_paginator(paginated, operation.name) else set()
    problems = [
        f"{operations[operation_name]} has no option {name}"
        for name in options
        if name not in by_option and name not in booleans and name not in AWS_GLOBAL | extra
    ]
    required = operation.input_shape.required_members if operation.input_shape else []
    given = {re.sub(r"^--no-", "--", name) for name in options}
    problems += [
        f"{operation.name} needs --{xform_name(name, '-')}"
        for name in required
        if f"--{xform_name(name, '-')}" not in given
    ]
    for option, value in options.items():
        member = by_option.get(option)
        if member is None or value is None or _PLACEHOLDER in value or "$" in value:
            continue
        if members[member].type_name in ("string", "integer"):
            literal: Any = int(value) if members[member].type_name == "integer" else value
            problems += violations(model.service_name, operation.name, member, literal)
    return problems


def _has_paginator(paginator_model: Any, operation: str) -> bool:
    try:
        paginator_model.get_paginator(operation)
    except ValueError:
        return False
    return True


# --- cdk ------------------------------------------------------------------------------------------


def _cdk_help(command: str) -> str:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    # The pinned CLI that `npx --no-install cdk` resolves to, without npx's own Node.js process.
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), command, "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def cdk_options(help_text: str) -> set[str]:
    """The options `cdk <command> --help` lists, with their aliases."""
    found: set[str] = set()
    for line in help_text.splitlines():
        match = re.match(r"^\s{2}(--[a-z0-9-]+)((?:, -{1,2}[A-Za-z0-9-]+)*)", line)
        if match:
            found.add(match.group(1))
            found |= {alias.strip() for alias in match.group(2).split(",") if alias.strip()}
    return found


@pytest.fixture(scope="session")
def cdk_cli_options(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Per CDK CLI command the docs use, its options: `npx cdk <command> --help`, once per run."""
    used = sorted({c.words[c.words.index("cdk") + 1] for c in all_commands() if _program(c) == "cdk"})

    def read(directory: Path) -> None:
        (directory / "options.json").write_text(json.dumps({name: _cdk_help(name) for name in used}))

    helps = json.loads((_once_per_run(tmp_path_factory, "cdk-help", read) / "options.json").read_text())
    return {name: cdk_options(text) for name, text in helps.items()}


def _stack_paths(assembly: Assembly) -> set[str]:
    """Every stack's path as the CDK CLI selects it: `Cicd`, `Dev/Storage`, ..."""
    manifest = json.loads((assembly.directory / "manifest.json").read_text())
    paths = set()
    for artifact_id, artifact in manifest["artifacts"].items():
        if artifact["type"] == "aws:cloudformation:stack":
            paths.add(artifact_id)
        elif artifact["type"] == "cdk:cloud-assembly":
            nested = json.loads(
                (assembly.directory / artifact["properties"]["directoryName"] / "manifest.json").read_text()
            )
            stage = artifact["properties"]["displayName"]
            paths |= {
                f"{stage}/{a['displayName'].split('/', 1)[1].split(' ')[0]}"
                for a in nested["artifacts"].values()
                if a["type"] == "aws:cloudformation:stack"
            }
    return paths


def cdk_problems(command: Command, options: dict[str, set[str]], stacks: set[str]) -> list[str]:
    words = list(command.words[command.words.index("cdk") + 1 :])
    name, rest = words[0], words[1:]
    known = options.get(name)
    if known is None:
        return [f"cdk has no command {name!r}"]
    problems = []
    positional = []
    takes_value = {"--profile", "--region", "-c", "--context", "--output", "-o", "--trust", "--app", "-a",
                   "--cloudformation-execution-policies", "--custom-permissions-boundary", "--require-approval",
                   "--qualifier", "--toolkit-stack-name", "--exclusively", "-e"}  # fmt: skip
    skip = False
    for index, word in enumerate(rest):
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            flag = re.sub(r"^--no-", "--", option)
            if option not in known and flag not in known:
                problems.append(f"cdk {name} has no option {option}")
            skip = "=" not in word and option in takes_value and index + 1 < len(rest)
        else:
            positional.append(word)
    if name in ("deploy", "destroy", "diff", "synth", "list"):
        for selector in positional:
            if not fnmatch.filter(stacks, selector):
                problems.append(f"no stack matches {selector!r}: {sorted(stacks)}")
    if name == "bootstrap":
        problems += [
            f"not an environment: {p}"
            for p in positional
            if not re.fullmatch(r"aws://(\d{12}|PLACEHOLDER)/[a-z0-9-]+", p)
        ]
    return problems


# --- mlopsctl and make ---------------------------------------------------------------------------


def mlopsctl_problems(command: Command) -> list[str]:
    words = list(command.words)
    return support.mlopsctl_problems(words[words.index("mlopsctl") + 1 :])


def make_problems(command: Command) -> list[str]:
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    named = [word for word in command.words[1:] if "=" not in word and not word.startswith("-")]
    return [f"no make target {target!r}" for target in named if target not in targets]


def repository_paths(command: Command) -> Iterator[str]:
    """The words of `command` that name a path into this repository (after `file://` or `fileb://`)."""
    folders = {
        path.name
        for path in ROOT.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and path.name not in _NOT_IN_REPOSITORY
    }
    for word in command.words:
        path = re.sub(r"^fileb?://", "", word)
        if "/" in path and path.split("/", 1)[0] in folders:
            yield path


# --- the tests ----------------------------------------------------------------------------------


def test_the_docs_run_aws_and_cdk_commands() -> None:
    programs = {_program(command) for command in all_commands()}
    assert {"aws", "cdk", "mlopsctl", "make"} <= programs


def test_every_aws_command_in_the_docs_exists_with_its_options() -> None:
    problems = [
        f"{command}: {p}" for command in all_commands() if _program(command) == "aws" for p in aws_problems(command)
    ]
    assert not problems, "\n".join(problems)


def test_every_mlopsctl_and_make_command_in_the_docs_parses() -> None:
    problems = []
    for command in all_commands():
        check = {"mlopsctl": mlopsctl_problems, "make": make_problems}.get(_program(command))
        if check is not None:
            problems += [f"{command}: {p}" for p in check(command)]
    assert not problems, "\n".join(problems)


def test_every_cdk_command_in_the_docs_exists_with_its_options_and_stacks(
    cdk_cli_options: dict[str, set[str]], assembly: Assembly, sandbox_assembly: Assembly
) -> None:
    default, sandbox = _stack_paths(assembly), _stack_paths(sandbox_assembly)
    problems = []
    for command in all_commands():
        if _program(command) != "cdk":
            continue
        stacks = sandbox if any("mlops-settings=" in word for word in command.words) else default
        problems += [f"{command}: {p}" for p in cdk_problems(command, cdk_cli_options, stacks)]
    assert not problems, "\n".join(problems)


def test_every_stack_output_the_docs_read_exists(assembly: Assembly, sandbox_assembly: Assembly) -> None:
    """`describe-stacks --stack-name S --query "...OutputKey=='X'..."` reads an output X that stack S has."""
    outputs: dict[str, set[str]] = {}
    for layout in (assembly, sandbox_assembly):
        for stack, template in layout.templates.items():
            outputs.setdefault(stack, set()).update(template.get("Outputs", {}))
    read = 0
    for command in all_commands():
        options = _options(command.words)
        key = re.search(r"OutputKey=='(\w+)'", options.get("--query") or "")
        if command.words[1:3] != ("cloudformation", "describe-stacks") or key is None:
            continue
        read += 1
        stack = options["--stack-name"]
        assert stack in outputs, f"{command}: no stack {stack}"
        assert key.group(1) in outputs[stack], f"{command}: {stack} has no output {key.group(1)}"
    assert read >= 3


def test_every_repository_file_the_docs_commands_name_exists() -> None:
    """A shell variable or a placeholder in the path stands for any part of a file's name."""
    missing = [
        f"{command}: {path}"
        for command in all_commands()
        for path in repository_paths(command)
        if not glob.glob(str(ROOT / re.sub(rf"\$\{{?\w+\}}?|{_PLACEHOLDER}", "*", path)))
    ]
    assert not missing, "\n".join(missing)


def test_every_program_the_docs_run_is_checked_or_known() -> None:
    unchecked = {
        str(command)
        for command in all_commands()
        if _program(command) not in {"aws", "cdk", "mlopsctl", "make", "python", *_NOT_CHECKED}
    }
    assert not unchecked, sorted(unchecked)
