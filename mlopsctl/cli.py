"""`python -m mlopsctl`: release control for operators and for the delivery pipeline's checks.

Exit codes: 0 success; 1 a failure or a refusal (one line on stderr, or {"error": ...} with
--json); 2 a usage error. The options every command takes (--profile, --region, --role-arn,
--json, --cdk-json, --settings) go before the command name, as Click parses a group's options:
`mlopsctl --json status`. From the profile's identity, each command assumes the operator role
of every account it acts in (`<project>-<env>-operator`; the model-build environment's for the
registry); --role-arn replaces them all with one role. This module parses and runs; what a
command prints for people is render.py's.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

import config
from mlopsctl import cleanup as cleanup_ops
from mlopsctl import operations, render, shadow, verification
from mlopsctl import rollback as rollbacks
from mlopsctl.aws import session_factory
from mlopsctl.context import Context, operator_role_arns
from mlopsctl.errors import NothingApproved, OperatorError

# Click takes a group's options before the command name only; each command's help says so.
SHARED_HELP = (
    "Options every command takes go before its name: mlopsctl [--profile P] [--region R] [--role-arn ARN] "
    "[--json] [--cdk-json FILE] [--settings FILE] COMMAND ... (see mlopsctl --help)."
)

app = typer.Typer(
    name="mlopsctl",
    help=(
        "Release control for mlops-delivery: status, compare, approve, reject, rollback, retrain, shadow-test, cleanup."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

Profile = Annotated[str | None, typer.Option("--profile", help="AWS profile for the boto3 session.")]
Region = Annotated[str | None, typer.Option("--region", help="Use this region instead of the configured ones.")]
RoleArn = Annotated[
    str | None,
    typer.Option("--role-arn", help="Assume this role for every call (default: each account's operator role)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
EnvName = Annotated[str, typer.Option("--env", help="Environment name from cdk.json.")]
Cdk = Annotated[Path | None, typer.Option("--cdk-json", help="Settings file (default: the project's cdk.json).")]
Settings = Annotated[
    str | None,
    typer.Option(
        "--settings",
        help="Another layout's settings over cdk.json's, as `cdk -c mlops-settings=FILE` (e.g. cdk.sandbox.json).",
    ),
]
SkipWithoutRelease = Annotated[
    bool,
    typer.Option(
        "--skip-without-release",
        help=(
            "When ENV has no release (nothing Approved): succeed if ENV has no endpoint yet (first installation), "
            "fail if it has one (it keeps serving a version that is no longer Approved)."
        ),
    ),
]
# Refused by the parser, before anything is read or changed: a status check at most every second.
PollSeconds = Annotated[float, typer.Option(min=1.0, help="Seconds between endpoint status checks (at least 1).")]
EndpointConfigName = Annotated[
    str | None,
    typer.Option(
        "--endpoint-config",
        help="The EndpointConfig the deployment requested; fail unless the endpoint runs it (not a rolled-back one).",
    ),
]


@dataclass(frozen=True)
class Shared:
    """The options every command takes (see `shared_options`)."""

    profile: str | None
    region: str | None
    role_arn: str | None
    as_json: bool
    cdk_json: Path | None
    settings: str | None = None

    def load(self, overrides: dict[str, Any] | None = None) -> config.AppConfig:
        """The settings every command reads: cdk.json (or --cdk-json), --settings over it, `overrides`."""
        layout = {config.SETTINGS_FILE_KEY: self.settings} if self.settings else {}
        try:
            return config.load_cdk_json(self.cdk_json, {**layout, **(overrides or {})})
        except (config.ConfigError, OSError) as error:
            raise OperatorError(str(error)) from error

    def context(self, overrides: dict[str, Any] | None = None, *, operator_roles: bool = True) -> Context:
        cfg = self.load(overrides)
        roles = operator_role_arns(cfg) if operator_roles else None
        clients = session_factory(self.profile, self.region, self.role_arn, roles)
        return Context(cfg=cfg, clients=clients)


@app.callback()
def shared_options(
    ctx: typer.Context,
    *,
    profile: Profile = None,
    region: Region = None,
    role_arn: RoleArn = None,
    as_json: AsJson = False,
    cdk_json: Cdk = None,
    settings: Settings = None,
) -> None:
    """Release control for mlops-delivery: status, compare, approve, reject, rollback, retrain, shadow-test, cleanup."""
    ctx.obj = Shared(
        profile=profile, region=region, role_arn=role_arn, as_json=as_json, cdk_json=cdk_json, settings=settings
    )


def _shared(ctx: typer.Context) -> Shared:
    shared = ctx.obj
    assert isinstance(shared, Shared), "set by the app's callback"
    return shared


def _show(shared: Shared, result: Any, for_people: Callable[[Any], None]) -> None:
    """`result` as one JSON document with --json, else as `for_people` prints it."""
    if shared.as_json:
        render.json_document(result)
    else:
        for_people(result)


def _skipped_without_release(env: str, shared: Shared, overrides: dict[str, Any] | None) -> bool:
    """True (and says so) when ENV has no release and no endpoint; exits 1 when an endpoint is left serving."""

    def has_release() -> bool:
        try:
            return shared.load(overrides).environment(env).release is not None
        except config.ConfigError as error:
            raise OperatorError(str(error)) from error

    as_json = shared.as_json
    if _run(as_json, has_release):
        return False
    result = _run(
        as_json,
        lambda: verification.unreleased_behind_role(lambda: shared.context(overrides), env, shared.role_arn),
    )
    _show(shared, result, lambda r: render.line(r["message"]))
    return True


def _fail(message: str, as_json: bool) -> None:
    text = " ".join(message.split())
    if as_json:
        render.json_document({"error": text})
    else:
        render.err.print(f"error: {text}", markup=False, soft_wrap=True)
    raise typer.Exit(1)


def _run(as_json: bool, action: Any) -> Any:
    """Runs one command and turns every AWS or operator error into one line and exit code 1."""
    try:
        return action()
    except OperatorError as error:
        _fail(str(error), as_json)
    except ClientError as error:
        e = error.response.get("Error", {})
        _fail(f"AWS {error.operation_name} failed: {e.get('Code')}: {e.get('Message', '')}", as_json)
    except BotoCoreError as error:
        _fail(f"AWS call failed: {error}", as_json)
    except config.ConfigError as error:
        _fail(str(error), as_json)
    except OSError as error:
        # A file named on the command line (--sample, --out, --cdk-json) that cannot be read or written.
        _fail(f"{error.strerror or error}: {error.filename}" if error.filename else str(error), as_json)


def _progress(command: str, as_json: bool) -> Callable[[str, str], None]:
    """Progress lines on stderr, `[elapsed] command stage: what is awaited`; none with --json (stdout is data)."""
    start = time.monotonic()

    def report(stage: str, detail: str) -> None:
        if not as_json:
            minutes, seconds = divmod(int(time.monotonic() - start), 60)
            render.err.print(f"[{minutes:3d}m{seconds:02d}s] {command} {stage}: {detail}", markup=False)

    return report


@app.command(epilog=SHARED_HELP)
def status(
    ctx: typer.Context,
    *,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    executions: Annotated[int, typer.Option(help="How many pipeline executions to list.")] = 5,
) -> None:
    """What is live where, deployments in progress, recent model builds, versions awaiting approval."""
    shared = _shared(ctx)
    result = _run(shared.as_json, lambda: operations.status(shared.context(), env, executions))
    _show(shared, result, render.status)
    # An environment that could not be read fails the command: a script must not take it for healthy.
    unreadable = [item["environment"] for item in result["environments"] if "error" in item]
    if unreadable:
        if not shared.as_json:  # the JSON document names each error already
            render.err.print(f"error: could not read {', '.join(unreadable)} (see the table).", markup=False)
        raise typer.Exit(1)


@app.command(epilog=SHARED_HELP)
def compare(
    ctx: typer.Context,
    a: Annotated[str | None, typer.Argument(help="Version number or ARN (default: the champion).")] = None,
    b: Annotated[str | None, typer.Argument(help="Version number or ARN (default: newest pending).")] = None,
    *,
    online: Annotated[
        bool, typer.Option("--online", help="Compare the running shadow variant with production on live traffic.")
    ] = False,
    env: Annotated[str | None, typer.Option("--env", help="Environment of the shadow test (with --online).")] = None,
    minutes: Annotated[int, typer.Option(min=1, help="With --online: how many recent minutes to compare.")] = 60,
) -> None:
    """Metrics of two versions side by side, with B - A deltas; --online: a running shadow test."""
    shared = _shared(ctx)
    if not online:
        _show(shared, _run(shared.as_json, lambda: operations.compare(shared.context(), a, b)), render.comparison)
        return
    if env is None:
        _fail("compare --online needs --env ENV.", shared.as_json)
    assert env is not None
    since = datetime.now(UTC) - timedelta(minutes=minutes)
    verdict = _run(shared.as_json, lambda: shadow.compare_online(shared.context(), env, since=since).as_dict())
    _show(shared, verdict, render.verdict)


def _approval(ref: str, approve: bool, reason: str | None, shared: Shared) -> None:
    result = _run(shared.as_json, lambda: operations.set_approval(shared.context(), ref, approve, reason))
    _show(shared, result, lambda r: render.approval(r, approve))


@app.command(epilog=SHARED_HELP)
def approve(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number or ARN.")],
    *,
    reason: Annotated[str | None, typer.Option(help="Why (recorded with your identity).")] = None,
) -> None:
    """Approve a version in the registry, recording who and why."""
    _approval(version, True, reason, _shared(ctx))


@app.command(epilog=SHARED_HELP)
def reject(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number or ARN.")],
    *,
    reason: Annotated[str, typer.Option(help="Why (required; recorded with your identity).")],
) -> None:
    """Reject a version in the registry, recording who and why."""
    _approval(version, False, reason, _shared(ctx))


@app.command(epilog=SHARED_HELP)
def rollback(
    ctx: typer.Context,
    *,
    env: EnvName,
    to: Annotated[str | None, typer.Option("--to", help="Version to return to (default: last known-good).")] = None,
    reason: Annotated[str, typer.Option(help="Why; recorded on the rejected version and in the ledger.")] = (
        "manual rollback"
    ),
    poll_seconds: PollSeconds = 30.0,
) -> None:
    """Return ENV to its last known-good version through a guarded blue/green update."""
    shared = _shared(ctx)
    report = _progress(f"rollback {env}", shared.as_json)

    def waiting(state: str, elapsed: float) -> None:
        report("update", f"endpoint {state}; the guardrails may still roll it back")

    result = _run(
        shared.as_json,
        lambda: rollbacks.rollback(shared.context(), env, to, reason, on_poll=waiting, poll_seconds=poll_seconds),
    )
    _show(shared, result, render.rollback)


@app.command(epilog=SHARED_HELP)
def retrain(
    ctx: typer.Context,
    *,
    reason: Annotated[str, typer.Option(help="Why the model is retrained (recorded as the trigger reason).")],
) -> None:
    """Request a model build through the same retraining rules as every other trigger."""
    shared = _shared(ctx)
    result = _run(shared.as_json, lambda: operations.retrain(shared.context(), reason))
    _show(shared, result, render.retraining_requested)


@app.command("resolve-release", epilog=SHARED_HELP)
def resolve_release(
    ctx: typer.Context,
    *,
    env: EnvName,
    out_path: Annotated[Path | None, typer.Option("--out", help="Release file (default: releases/<env>.json).")] = None,
    print_context: Annotated[bool, typer.Option("--print-context", help="Print -c context, write nothing.")] = False,
    allow_none: Annotated[
        bool,
        typer.Option(
            "--allow-none",
            help=(
                "Nothing Approved is not an error here: remove ENV's release file so synth leaves its serving stack "
                "out; the post-deploy check then fails if ENV already has an endpoint."
            ),
        ),
    ] = False,
    own_credentials: Annotated[
        bool,
        typer.Option(
            "--own-credentials",
            help="Read the registry with the caller's credentials, not the model-build operator role "
            "(the delivery pipeline: the registry's resource policy lets its account read).",
        ),
    ] = False,
) -> None:
    """Write which Approved version ENV ships (and its drift baselines) for `cdk synth` to read."""
    shared = _shared(ctx)
    path = out_path or config.RELEASES_DIR / f"{env}.json"

    def resolve() -> dict[str, Any] | None:
        try:
            context = shared.context(operator_roles=not own_credentials)
            return operations.resolve_release(context, env)
        except NothingApproved:
            if allow_none:
                return None
            raise

    result = _run(shared.as_json, resolve)
    if result is None:
        # Right for a first installation only; the post-deploy check (verification.unreleased) tells
        # it apart from an endpoint left serving a version that is no longer Approved, and fails that.
        path.unlink(missing_ok=True)
        message = (
            f"{env}: no Approved version yet; synth leaves the serving stack out, and the post-deploy check "
            "fails if an endpoint already serves."
        )
        _show(shared, {"release": None, "message": message}, lambda r: render.line(r["message"]))
    elif print_context:
        context = f"-c release.{env}={result['model_package_arn']}"
        _show(shared, {**result, "context": context}, lambda r: render.line(r["context"]))
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        written = {**result, "path": str(path)}
        _show(shared, written, lambda r: render.line(f"{env}: {render.version(r['model_package_arn'])} -> {path}"))


@app.command("record-deployment", epilog=SHARED_HELP)
def record_deployment(
    ctx: typer.Context,
    *,
    env: EnvName,
    release: Annotated[str | None, typer.Option(help="Release ARN (default: releases/<env>.json or -c).")] = None,
    endpoint_config: EndpointConfigName = None,
    skip_without_release: SkipWithoutRelease = False,
) -> None:
    """After a deployment: verify the endpoint really serves the release, then append to the ledger."""
    shared = _shared(ctx)
    overrides = {f"release.{env}": release} if release else None
    if skip_without_release and _skipped_without_release(env, shared, overrides):
        return
    result = _run(
        shared.as_json,
        lambda: operations.record_deployment(shared.context(overrides), env, endpoint_config),
    )
    _show(shared, result, lambda r: render.deployment_recorded(env, r))


@app.command("smoke-test", epilog=SHARED_HELP)
def smoke_test(
    ctx: typer.Context,
    *,
    env: EnvName,
    max_latency_ms: Annotated[float, typer.Option(help="Slowest acceptable request, round trip.")] = 2000.0,
    sample: Annotated[
        Path | None,
        typer.Option(
            help="CSV rows of the model's features, no header (default: the sample payload registered with the "
            "version the endpoint serves)."
        ),
    ] = None,
    endpoint_config: EndpointConfigName = None,
    skip_without_release: SkipWithoutRelease = False,
) -> None:
    """Invoke ENV's endpoint with its version's sample rows; check HTTP status, answers by task and latency."""
    shared = _shared(ctx)
    if skip_without_release and _skipped_without_release(env, shared, None):
        return
    result = _run(
        shared.as_json,
        lambda: operations.smoke_test(
            shared.context(),
            env,
            max_latency_ms,
            sample=sample,
            requested_config=endpoint_config,
        ),
    )
    _show(shared, result, render.smoke_tested)


@app.command("shadow-test", epilog=SHARED_HELP)
def shadow_test(
    ctx: typer.Context,
    *,
    env: EnvName,
    skip_without_release: SkipWithoutRelease = False,
    poll_seconds: PollSeconds = 30.0,
) -> None:
    """Before ENV's deployment: run its release as a shadow of the live model, compare, restore."""
    shared = _shared(ctx)

    def run() -> dict[str, Any]:
        def make_ctx() -> Context:
            return shared.context()

        try:
            make_ctx()
        except ClientError as error:
            # The serving stack creates the verifier role with the endpoint: no role, no endpoint yet.
            if not (skip_without_release and error.operation_name == "AssumeRole"):
                raise
            return {"skipped": True, "message": f"{env}: no serving stack yet (first release); nothing to compare."}
        return shadow.shadow_test(
            make_ctx, env, poll_seconds=poll_seconds, report=_progress(f"shadow-test {env}", shared.as_json)
        )

    _show(shared, _run(shared.as_json, run), lambda r: render.shadow_tested(env, r))


@app.command(epilog=SHARED_HELP)
def cleanup(
    ctx: typer.Context,
    *,
    env: EnvName,
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only list what would be deleted.")] = False,
) -> None:
    """Delete ENV's Models and EndpointConfigs that no endpoint uses (a dry run unless --yes)."""
    shared = _shared(ctx)
    result = _run(shared.as_json, lambda: cleanup_ops.cleanup(shared.context(), env, delete=yes))
    _show(shared, result, lambda r: render.cleanup(env, r, yes))


def main() -> None:
    # Only our own lines by default: the AWS SDK's and HTTP libraries' chatter stays below WARNING.
    for library in ("boto3", "botocore", "urllib3", "s3transfer"):
        logging.getLogger(library).setLevel(logging.WARNING)
    app(prog_name="mlopsctl")
