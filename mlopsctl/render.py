"""What the commands print for people: a table or a few sentences per result; --json prints the result itself.

Every function takes the plain data an operation returned (mlopsctl/operations.py and the
others) and prints it on stdout; errors and progress go to stderr (`err`), so stdout stays data.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

import config
from mlopsctl import registry

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# Metrics where a smaller number is the better model (log_loss, rmse, mae): their increase shows red.
LOWER_IS_BETTER = frozenset(
    m for metrics in config.TASK_METRICS.values() for m, higher in metrics.items() if not higher
)


def json_document(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


def line(text: str) -> None:
    """One line as written: no markup, so a name with [brackets] prints as it is."""
    out.print(text, markup=False)


def version(arn: str | None) -> str:
    number = registry.version_of(arn)
    return f"v{number}" if number is not None else (arn or "-")


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


def _ledger_text(item: dict[str, Any]) -> str:
    live, record = item["endpoint"], item["ledger"]
    text = "-"
    if record is not None:
        text = f"{version(record['model_package_arn'])} {record['source']} {record['recorded_at']}"
    if live and record and not item["ledger_matches_endpoint"]:
        text += " [differs from endpoint]"
    return text


def status(result: dict[str, Any]) -> None:
    table = Table(title="Environments")
    columns = ("env", "live (endpoint)", "ledger", "endpoint status", "endpoint config", "traffic", "rollback alarms")
    for column in columns:
        table.add_column(column)
    for item in result["environments"]:
        if "error" in item:
            table.add_row(item["environment"], "?", "?", f"cannot read: {item['error']}", "", "", "")
            continue
        live = item["endpoint"]
        state = "not deployed" if live is None else live["status"]
        if item["deployment_in_progress"]:
            state += " (blue/green in progress)"
        table.add_row(
            item["environment"],
            version(live and live["model_package_arn"]),
            _ledger_text(item),
            state,
            live["endpoint_config_name"] if live else "-",
            _traffic_text(live),
            _alarms_text(item["rollback_alarms"]),
        )
    out.print(table)
    _runs_and_pending(result)


def _runs_and_pending(result: dict[str, Any]) -> None:
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


def _number(value: float | None, signed: bool = False) -> str:
    return "-" if value is None else (f"{value:+.4f}" if signed else f"{value:.4f}")


def comparison(result: dict[str, Any]) -> None:
    left, right = result["a"], result["b"]
    table = Table(title=f"A = v{left['version']} ({left['status']})  vs  B = v{right['version']} ({right['status']})")
    for column in ("metric", "A", "B", "B - A"):
        table.add_column(column, justify="right" if column != "metric" else "left")
    for row in result["metrics"]:
        delta = _number(row["delta"], signed=True)
        worse = row["delta"] is not None and (
            row["delta"] > 0 if row["metric"] in LOWER_IS_BETTER else row["delta"] < 0
        )
        if worse:
            delta = f"[red]{delta}[/red]"
        marker = " (gate)" if row["metric"] == result["gate_metric"] else ""
        table.add_row(row["metric"] + marker, _number(row["a"]), _number(row["b"]), delta)
    table.add_row("trigger", left["trigger_reason"] or "-", right["trigger_reason"] or "-", "")
    table.add_row(
        "compared with", version(left["champion_model_package_arn"]), version(right["champion_model_package_arn"]), ""
    )
    out.print(table)
    if result["regression"]:
        tolerance = result["allowed_regression"]
        tolerated = "" if tolerance is None else f" (the build gate tolerates up to {tolerance})"
        out.print(f"B is worse than A on {result['gate_metric']}{tolerated}.")


def verdict(result: dict[str, Any]) -> None:
    """A shadow test's numbers, production beside shadow, and PASS or every failure."""
    table = Table(title="Shadow vs production on the same live requests")
    for column in ("metric", "production", "shadow"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key, label in (
        ("invocations", "invocations"),
        ("error_rate_percent", "5XX rate %"),
        ("p99_latency_ms", "p99 ms"),
    ):
        table.add_row(label, str(result["production"][key]), str(result["shadow"][key]))
    table.add_row(
        "prediction disagreement",
        "",
        f"{result['disagreements']}/{result['compared_requests']} ({result['disagreement_percent']}%)",
    )
    table.add_row(
        "distinct requests compared (replayed)", "", f"{result['compared_requests']} ({result['replayed_requests']})"
    )
    out.print(table)
    line("PASS" if result["passed"] else "FAIL: " + "; ".join(result["failures"]))


def approval(result: dict[str, Any], approved: bool) -> None:
    out.print(f"v{result['version']}: {result['from']} -> {result['to']} ({result['approval_description']})")
    if approved:
        out.print(
            "The delivery pipeline now ships it dev -> staging; prod still waits for the pipeline's manual approval."
        )


def rollback(result: dict[str, Any]) -> None:
    out.print(
        f"{result['environment']}: {version(result['from'])} -> {version(result['to'])} is live on "
        f"{result['endpoint_config_name']} (ledger updated, source rollback)."
    )
    line("Acted as: " + ", ".join(f"{scope} {arn}" for scope, arn in result["acting_as"].items()))
    if result["rejected"]:
        out.print(
            f"{version(result['rejected'])} is Rejected, so the next pipeline run resolves the latest Approved "
            f"version: {version(result['next_release'])}."
        )
    if not result["pipeline_consistent"]:
        out.print(
            f"Warning: the next pipeline run would ship {version(result['next_release'])}, not "
            f"{version(result['to'])}; reject that version too if it must not return."
        )


def retraining_requested(result: dict[str, Any]) -> None:
    out.print(
        f"Retraining requested in {result['environment']} (event {result['event_id']}); the retraining "
        "function deduplicates it and the candidate is registered for approval, never promoted."
    )


def deployment_recorded(env: str, result: dict[str, Any]) -> None:
    entry = result["ledger_entry"]
    verb = "recorded" if result["recorded"] else "already recorded"
    out.print(f"{env}: {version(entry['model_package_arn'])} on {entry['endpoint_config_name']} {verb} as known-good.")


def smoke_tested(result: dict[str, Any]) -> None:
    out.print(
        f"{result['endpoint_name']}: {result['requests']} requests OK, slowest {result['max_latency_ms']} ms "
        f"(limit {result['limit_ms']:.0f} ms)."
    )


def cleanup(env: str, result: dict[str, Any], deleted: bool) -> None:
    configs, models = result["delete"]["endpoint_configs"], result["delete"]["models"]
    verb = "Deleted" if deleted else "Would delete"
    line(
        f"{env} ({result['region']}): {verb} {len(configs)} endpoint configs and {len(models)} models that no "
        f"endpoint uses; kept in use: {', '.join(result['in_use']['endpoint_configs']) or 'none'}."
    )
    for name in configs:
        line(f"  endpoint config {name}")
    for name in models:
        line(f"  model {name}")
    if not deleted and (configs or models):
        line("Nothing deleted (dry run); run again with --yes to delete them.")


def shadow_tested(env: str, result: dict[str, Any]) -> None:
    if result["skipped"]:
        line(result["message"])
        return
    verdict(result["verdict"])
    line(f"{env}: endpoint restored to {result['restored_endpoint_config']}; the deployment proceeds.")
