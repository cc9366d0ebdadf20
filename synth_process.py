"""How `python app.py` spends its time as a process; what it builds is app.py's business.

Two things keep a synth fast here (README, Benchmarks). The CDK's template validator takes about
1.5 s to start its rules engine, all of it in the jsii runtime's Node.js process while Python
waits: starting it first lets a second thread import the app's modules meanwhile. And once
everything is written, the interpreter's own teardown (freeing every CDK class object by object)
is skipped.
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import threading
from collections.abc import Iterable, Mapping

import aws_cdk as cdk


def start_template_validation(app: cdk.App, environ: Mapping[str, str]) -> None:
    """Registers the CDK's built-in template validator now instead of at synth.

    Same plugin, same default rules: an explicitly registered CloudFormationValidatePlugin
    replaces the one the CDK would add during synth. `cdk synth --no-validation` passes
    CDK_VALIDATION=false to the app, and that still turns it off. One visible difference: the
    CDK's version-reporting metadata (CDKMetadata) names an explicitly registered plugin's rules.
    """
    if environ.get("CDK_VALIDATION", "").lower() != "false":
        cdk.Validations.of(app).add_plugins(cdk.CloudFormationValidatePlugin())


def import_modules(modules: Iterable[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: S112 - the caller imports it again and reports the error there
            continue


def start_validation_while_importing(app: cdk.App, modules: Iterable[str], environ: Mapping[str, str]) -> None:
    """The validator starts on this thread while `modules` are imported on another.

    Safe only while importing `modules` makes no call into jsii, whose connection to its Node.js
    process takes one call at a time (tests/test_synth_process.py checks the app's modules).
    """
    importer = threading.Thread(target=import_modules, args=(tuple(modules),), name="import-modules", daemon=True)
    importer.start()
    try:
        start_template_validation(app, environ)
    finally:
        importer.join()


def exit_without_teardown() -> None:
    """Runs the exit handlers (one stops the jsii runtime and waits for it), then leaves at once.

    Freeing the CDK's Python modules object by object takes ~0.2 s more than the one-bucket app
    needs, and the operating system reclaims that memory anyway.
    """
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
