"""`python -m mlopsctl`: release control for operators and for the delivery pipeline's checks.

Exit codes: 0 success; 1 a failure or a refusal (one line on stderr, or {"error": ...} with
--json); 2 a usage error. Every command takes --profile/--region/--role-arn, --json,
--cdk-json and --settings, before or after the command name (one callback holds them).
From the profile's identity, each command assumes the operator role of every account it acts
in (`<project>-<env>-operator`; the model-build environment's for the registry); --role-arn
replaces them all with one role.
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
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

import config
from mlopsctl import cleanup as cleanup_ops
from mlopsctl import operations, registry, shadow, verification
from mlopsctl import rollback as rollbacks
from mlopsctl.aws import session_factory
from mlopsctl.context import Context, operator_role_arns
from mlopsctl.errors import NothingApproved, OperatorError

# The options every command takes; they are the callback's, and may stand before or after the command.
_SHARED_FLAGS = {"--json"}
_SHARED_VALUED = {"--profile", "--region", "--role-arn", "--cdk-json", "--settings"}
_SHARED_HELP = "Also takes --profile, --region, --role-arn, --json, --cdk-json and --settings (see mlopsctl --help)."


class _SharedOptionsAnywhere(TyperGroup):
    """Accepts the shared options after the command name too (`mlopsctl status --json`).

    Click parses a group's options before the command name only; this moves each shared
    option (with its value) in front of the command before Click parses the line.
    """

    # `ctx` is the Click context of Typer's bundled Click, a type Typer does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        shared: list[str] = []
        rest: list[str] = []
        remaining = iter(args)
        for arg in remaining:
            if arg == "--":
                rest += [arg, *remaining]
                break
            name = arg.split("=", 1)[0]
            if name in _SHARED_FLAGS or (name in _SHARED_VALUED and "=" in arg):
                shared.append(arg)
            elif name in _SHARED_VALUED:
                value = next(remaining, None)
                if value is None:
                    ctx.fail(f"Option '{arg}' requires an argument.")
                else:
                    shared += [arg, value]
            else:
                rest.append(arg)
        return super().parse_args(ctx, shared + rest)


# Metrics where a smaller number is the better model (log_loss, rmse, mae): their increase shows red.
LOWER_IS_BETTER = frozenset(
    m for metrics in config.TASK_METRICS.values() for m, higher in metrics.items() if not higher
)

app = typer.Typer(
    cls=_SharedOptionsAnywhere,
    name="mlopsctl",
    help=(
        "Release control for mlops-delivery: status, compare, approve, reject, rollback, retrain, shadow-test, cleanup."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
    if as_json:
        _json(result)
    else:
        out.print(result["message"], markup=False)
    return True


def _fail(message: str, as_json: bool) -> None:
    line = " ".join(message.split())
    if as_json:
        out.print_json(json.dumps({"error": line}))
    else:
        err.print(f"error: {line}", markup=False, soft_wrap=True)
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
            err.print(f"[{minutes:3d}m{seconds:02d}s] {command} {stage}: {detail}", markup=False)

    return report


def _json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def _v(arn: str | None) -> str:
    version = registry.version_of(arn)
    return f"v{version}" if version is not None else (arn or "-")


def _fleet_text(fleet: list[dict[str, Any]]) -> str:
    def weight(variant: dict[str, Any]) -> str:
        current, desired = variant["current_weight"], variant["desired_weight"]
        return f"weight {current}" + (f"->{desired}" if desired is not None and desired != current else "")

    return ", ".join(
        f"{v['variant']} {weight(v)} x{v['current_instances']}" + (f" {v['status']}" if v["status"] else "")
        for v in fleet
    )


def _traffic_text(live: dict[str, Any] | None) -> str:
    """Serving fleet, then the new fleet of a blue/green deployment in progress."""
    if live is None:
        return "-"
    text = _fleet_text(live["traffic"]) or "-"
    pending = live["pending_deployment"]
    if pending:
        text += f" | new {pending['endpoint_config_name']}: {_fleet_text(pending['variants']) or '-'}"
    return text


def _alarms_text(alarms: list[dict[str, Any]]) -> str:
    if not alarms:
        return "none"
    firing = [a["name"] for a in alarms if a["state"] == "ALARM"]
    other = [f"{a['name']} {a['state']}" for a in alarms if a["state"] not in ("OK", "ALARM")]
    if not firing and not other:
        return f"{len(alarms)} OK"
    return "; ".join([*(f"ALARM {name}" for name in firing), *other])


@app.command(epilog=_SHARED_HELP)
def status(
    ctx: typer.Context,
    env: Annotated[str | None, typer.Option("--env", help="Only this environment.")] = None,
    executions: Annotated[int, typer.Option(help="How many pipeline executions to list.")] = 5,
) -> None:
    """What is live where, deployments in progress, recent model builds, versions awaiting approval."""
    shared = _shared(ctx)
    as_json = shared.as_json
    result = _run(as_json, lambda: operations.status(shared.context(), env, executions))
    if as_json:
        _json(result)
        return _exit_if_unreadable(result, as_json)
    table = Table(title="Environments")
    columns = ("env", "live (endpoint)", "ledger", "endpoint status", "endpoint config", "traffic", "rollback alarms")
    for column in columns:
        table.add_column(column)
    for item in result["environments"]:
        if "error" in item:
            table.add_row(item["environment"], "?", "?", f"cannot read: {item['error']}", "", "", "")
            continue
        live, record = item["endpoint"], item["ledger"]
        state = "not deployed" if live is None else live["status"]
        if item["deployment_in_progress"]:
            state += " (blue/green in progress)"
        ledger_text = "-"
        if record is not None:
            ledger_text = f"{_v(record['model_package_arn'])} {record['source']} {record['recorded_at']}"
        if live and record and not item["ledger_matches_endpoint"]:
            ledger_text += " [differs from endpoint]"
        table.add_row(
            item["environment"],
            _v(live and live["model_package_arn"]),
            ledger_text,
            state,
            live["endpoint_config_name"] if live else "-",
            _traffic_text(live),
            _alarms_text(item["rollback_alarms"]),
        )
    out.print(table)
    _print_runs_and_pending(result)
    _exit_if_unreadable(result, as_json)


def _exit_if_unreadable(result: dict[str, Any], as_json: bool) -> None:
    """`status` exits 1 when an environment could not be read: a script must not take it for healthy."""
    unreadable = [item["environment"] for item in result["environments"] if "error" in item]
    if unreadable:
        if not as_json:  # the JSON document names each error already
            err.print(f"error: could not read {', '.join(unreadable)} (see the table).", markup=False)
        raise typer.Exit(1)


def _print_runs_and_pending(result: dict[str, Any]) -> None:
    runs = result["executions"]
    if isinstance(runs, str):
        out.print(f"Pipeline {result['pipeline']}: {runs}")
    else:
        runs_table = Table(title=f"Recent runs of {result['pipeline']}")
        for column in ("started", "status", "trigger reason", "failure"):
            runs_table.add_column(column)
        for run in runs:
            runs_table.add_row(run["started"], run["status"], run["trigger_reason"], run["failure_reason"] or "")
        out.print(runs_table)
    pending = result["pending_approval"]
    if isinstance(pending, str):
        out.print(f"Pending approval: {pending}")
    else:
        out.print("Pending approval: " + (", ".join(f"v{p['version']}" for p in pending) if pending else "none"))


@app.command(epilog=_SHARED_HELP)
def compare(
    ctx: typer.Context,
    a: Annotated[str | None, typer.Argument(help="Version number or ARN (default: the champion).")] = None,
    b: Annotated[str | None, typer.Argument(help="Version number or ARN (default: newest pending).")] = None,
    online: Annotated[
        bool, typer.Option("--online", help="Compare the running shadow variant with production on live traffic.")
    ] = False,
    env: Annotated[str | None, typer.Option("--env", help="Environment of the shadow test (with --online).")] = None,
    minutes: Annotated[int, typer.Option(min=1, help="With --online: how many recent minutes to compare.")] = 60,
) -> None:
    """Metrics of two versions side by side, with B - A deltas; --online: a running shadow test."""
    shared = _shared(ctx)
    as_json = shared.as_json
    if online:
        if env is None:
            _fail("compare --online needs --env ENV.", as_json)
        assert env is not None
        since = datetime.now(UTC) - timedelta(minutes=minutes)
        verdict = _run(
            as_json,
            lambda: shadow.compare_online(shared.context(), env, since=since).as_dict(),
        )
        return _json(verdict) if as_json else _print_verdict(verdict)
    result = _run(as_json, lambda: operations.compare(shared.context(), a, b))
    if as_json:
        return _json(result)
    left, right = result["a"], result["b"]
    table = Table(title=f"A = v{left['version']} ({left['status']})  vs  B = v{right['version']} ({right['status']})")
    for column in ("metric", "A", "B", "B - A"):
        table.add_column(column, justify="right" if column != "metric" else "left")

    def fmt(value: float | None, signed: bool = False) -> str:
        return "-" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")

    for row in result["metrics"]:
        delta = fmt(row["delta"], signed=True)
        worse = row["delta"] is not None and (
            row["delta"] > 0 if row["metric"] in LOWER_IS_BETTER else row["delta"] < 0
        )
        if worse:
            delta = f"[red]{delta}[/red]"
        marker = " (gate)" if row["metric"] == result["gate_metric"] else ""
        table.add_row(row["metric"] + marker, fmt(row["a"]), fmt(row["b"]), delta)
    table.add_row("trigger", left["trigger_reason"] or "-", right["trigger_reason"] or "-", "")
    table.add_row("compared with", _v(left["champion_model_package_arn"]), _v(right["champion_model_package_arn"]), "")
    out.print(table)
    if result["regression"]:
        tolerance = result["allowed_regression"]
        tolerated = "" if tolerance is None else f" (the build gate tolerates up to {tolerance})"
        out.print(f"B is worse than A on {result['gate_metric']}{tolerated}.")


def _print_verdict(verdict: dict[str, Any]) -> None:
    table = Table(title="Shadow vs production on the same live requests")
    for column in ("metric", "production", "shadow"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key, label in (
        ("invocations", "invocations"),
        ("error_rate_percent", "5XX rate %"),
        ("p99_latency_ms", "p99 ms"),
    ):
        table.add_row(label, str(verdict["production"][key]), str(verdict["shadow"][key]))
    table.add_row(
        "prediction disagreement",
        "",
        f"{verdict['disagreements']}/{verdict['compared_requests']} ({verdict['disagreement_percent']}%)",
    )
    table.add_row(
        "distinct requests compared (replayed)", "", f"{verdict['compared_requests']} ({verdict['replayed_requests']})"
    )
    out.print(table)
    out.print("PASS" if verdict["passed"] else "FAIL: " + "; ".join(verdict["failures"]), markup=False)


def _approval(ref: str, approve: bool, reason: str | None, shared: Shared) -> None:
    as_json = shared.as_json
    result = _run(as_json, lambda: operations.set_approval(shared.context(), ref, approve, reason))
    if as_json:
        return _json(result)
    out.print(f"v{result['version']}: {result['from']} -> {result['to']} ({result['approval_description']})")
    if approve:
        out.print(
            "The delivery pipeline now ships it dev -> staging; prod still waits for the pipeline's manual approval."
        )


@app.command(epilog=_SHARED_HELP)
def approve(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number or ARN.")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded with your identity).")] = None,
) -> None:
    """Approve a version in the registry, recording who and why."""
    _approval(version, True, reason, _shared(ctx))


@app.command(epilog=_SHARED_HELP)
def reject(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="Version number or ARN.")],
    reason: Annotated[str, typer.Option(help="Why (required; recorded with your identity).")],
) -> None:
    """Reject a version in the registry, recording who and why."""
    _approval(version, False, reason, _shared(ctx))


@app.command(epilog=_SHARED_HELP)
def rollback(
    ctx: typer.Context,
    env: EnvName,
    to: Annotated[str | None, typer.Option("--to", help="Version to return to (default: last known-good).")] = None,
    reason: Annotated[str, typer.Option(help="Why; recorded on the rejected version and in the ledger.")] = (
        "manual rollback"
    ),
    poll_seconds: PollSeconds = 30.0,
) -> None:
    """Return ENV to its last known-good version through a guarded blue/green update."""
    shared = _shared(ctx)
    as_json = shared.as_json

    report = _progress(f"rollback {env}", as_json)

    def waiting(state: str, elapsed: float) -> None:
        report("update", f"endpoint {state}; the guardrails may still roll it back")

    result = _run(
        as_json,
        lambda: rollbacks.rollback(shared.context(), env, to, reason, on_poll=waiting, poll_seconds=poll_seconds),
    )
    if as_json:
        return _json(result)
    out.print(
        f"{result['environment']}: {_v(result['from'])} -> {_v(result['to'])} is live on "
        f"{result['endpoint_config_name']} (ledger updated, source rollback)."
    )
    out.print("Acted as: " + ", ".join(f"{scope} {arn}" for scope, arn in result["acting_as"].items()), markup=False)
    if result["rejected"]:
        out.print(
            f"{_v(result['rejected'])} is Rejected, so the next pipeline run resolves the latest Approved "
            f"version: {_v(result['next_release'])}."
        )
    if not result["pipeline_consistent"]:
        out.print(
            f"Warning: the next pipeline run would ship {_v(result['next_release'])}, not "
            f"{_v(result['to'])}; reject that version too if it must not return."
        )


@app.command(epilog=_SHARED_HELP)
def retrain(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why the model is retrained (recorded as the trigger reason).")],
) -> None:
    """Request a model build through the same retraining rules as every other trigger."""
    shared = _shared(ctx)
    as_json = shared.as_json
    result = _run(as_json, lambda: operations.retrain(shared.context(), reason))
    if as_json:
        return _json(result)
    out.print(
        f"Retraining requested in {result['environment']} (event {result['event_id']}); the retraining "
        "function deduplicates it and the candidate is registered for approval, never promoted."
    )


@app.command("resolve-release", epilog=_SHARED_HELP)
def resolve_release(
    ctx: typer.Context,
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
    as_json = shared.as_json
    path = out_path or config.RELEASES_DIR / f"{env}.json"

    def resolve() -> dict[str, Any] | None:
        try:
            context = shared.context(operator_roles=not own_credentials)
            return operations.resolve_release(context, env)
        except NothingApproved:
            if allow_none:
                return None
            raise

    result = _run(as_json, resolve)
    if result is None:
        # Right for a first installation only; the post-deploy check (verification.unreleased) tells
        # it apart from an endpoint left serving a version that is no longer Approved, and fails that.
        path.unlink(missing_ok=True)
        message = (
            f"{env}: no Approved version yet; synth leaves the serving stack out, and the post-deploy check "
            "fails if an endpoint already serves."
        )
        return _json({"release": None, "message": message}) if as_json else out.print(message, markup=False)
    if print_context:
        context = f"-c release.{env}={result['model_package_arn']}"
        if as_json:
            return _json({**result, "context": context})
        out.print(context, markup=False)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    if as_json:
        return _json({**result, "path": str(path)})
    out.print(f"{env}: {_v(result['model_package_arn'])} -> {path}", markup=False)


@app.command("record-deployment", epilog=_SHARED_HELP)
def record_deployment(
    ctx: typer.Context,
    env: EnvName,
    release: Annotated[str | None, typer.Option(help="Release ARN (default: releases/<env>.json or -c).")] = None,
    endpoint_config: EndpointConfigName = None,
    skip_without_release: SkipWithoutRelease = False,
) -> None:
    """After a deployment: verify the endpoint really serves the release, then append to the ledger."""
    shared = _shared(ctx)
    as_json = shared.as_json
    overrides = {f"release.{env}": release} if release else None
    if skip_without_release and _skipped_without_release(env, shared, overrides):
        return None
    result = _run(
        as_json,
        lambda: operations.record_deployment(shared.context(overrides), env, endpoint_config),
    )
    if as_json:
        return _json(result)
    entry = result["ledger_entry"]
    verb = "recorded" if result["recorded"] else "already recorded"
    out.print(f"{env}: {_v(entry['model_package_arn'])} on {entry['endpoint_config_name']} {verb} as known-good.")


@app.command("smoke-test", epilog=_SHARED_HELP)
def smoke_test(
    ctx: typer.Context,
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
    as_json = shared.as_json
    if skip_without_release and _skipped_without_release(env, shared, None):
        return None
    result = _run(
        as_json,
        lambda: operations.smoke_test(
            shared.context(),
            env,
            max_latency_ms,
            sample=sample,
            requested_config=endpoint_config,
        ),
    )
    if as_json:
        return _json(result)
    out.print(
        f"{result['endpoint_name']}: {result['requests']} requests OK, slowest {result['max_latency_ms']} ms "
        f"(limit {result['limit_ms']:.0f} ms)."
    )


@app.command("shadow-test", epilog=_SHARED_HELP)
def shadow_test(
    ctx: typer.Context,
    env: EnvName,
    skip_without_release: SkipWithoutRelease = False,
    poll_seconds: PollSeconds = 30.0,
) -> None:
    """Before ENV's deployment: run its release as a shadow of the live model, compare, restore."""
    shared = _shared(ctx)
    as_json = shared.as_json

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
            make_ctx, env, poll_seconds=poll_seconds, report=_progress(f"shadow-test {env}", as_json)
        )

    result = _run(as_json, run)
    if as_json:
        return _json(result)
    if result["skipped"]:
        return out.print(result["message"], markup=False)
    _print_verdict(result["verdict"])
    out.print(
        f"{env}: endpoint restored to {result['restored_endpoint_config']}; the deployment proceeds.", markup=False
    )


@app.command(epilog=_SHARED_HELP)
def cleanup(
    ctx: typer.Context,
    env: EnvName,
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only list what would be deleted.")] = False,
) -> None:
    """Delete ENV's Models and EndpointConfigs that no endpoint uses (a dry run unless --yes)."""
    shared = _shared(ctx)
    as_json = shared.as_json
    result = _run(as_json, lambda: cleanup_ops.cleanup(shared.context(), env, delete=yes))
    if as_json:
        return _json(result)
    configs, models = result["delete"]["endpoint_configs"], result["delete"]["models"]
    verb = "Deleted" if yes else "Would delete"
    out.print(
        f"{env} ({result['region']}): {verb} {len(configs)} endpoint configs and {len(models)} models that no "
        f"endpoint uses; kept in use: {', '.join(result['in_use']['endpoint_configs']) or 'none'}.",
        markup=False,
    )
    for name in configs:
        out.print(f"  endpoint config {name}", markup=False)
    for name in models:
        out.print(f"  model {name}", markup=False)
    if not yes and (configs or models):
        out.print("Nothing deleted (dry run); run again with --yes to delete them.", markup=False)


def main() -> None:
    # Only our own lines by default: the AWS SDK's and HTTP libraries' chatter stays below WARNING.
    for library in ("boto3", "botocore", "urllib3", "s3transfer"):
        logging.getLogger(library).setLevel(logging.WARNING)
    app(prog_name="mlopsctl")
