"""The AWS Control Tower proactive controls (cfn-guard) as a synth-time validation plugin.

The validator reports a finding under its plugin name and the guard rule's name; CDK's
`Validations.of(scope).acknowledge` takes that id, `guard_rule` spells it. What a control asks
of a resource lives with the resource (e.g. kms_keys.py for CT.KMS.PR.3).
"""

from __future__ import annotations

from collections.abc import Callable

import jsii
from aws_cdk import (
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
)
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

# The name CfnGuardValidator reports under; CDK uses it as the acknowledgement prefix.
GUARD_PLUGIN = "cdk-validator-cfnguard"


@jsii.implements(IPolicyValidationPlugin)
class ControlTowerRules:
    """The bundled Control Tower rules (CfnGuardValidator), every finding reported as an error.

    CfnGuardValidator leaves a finding's severity unset. As soon as one of its findings is
    acknowledged, CDK decides whether the rest still fail from their severities, and an unset
    one passes: without this, a single acknowledgement would turn every other finding into a
    message that no longer fails synth (tests/test_app_gates.py proves it fails).
    """

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self._guard = CfnGuardValidator()
        self._progress = progress

    @property
    def name(self) -> str:
        return GUARD_PLUGIN

    @property
    def rule_ids(self) -> list[str] | None:
        return self._guard.rule_ids

    @property
    def version(self) -> str | None:
        return self._guard.version

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        if self._progress is not None:
            self._progress(f"checking {len(context.template_paths)} templates with the Control Tower rules (cfn-guard)")
        report = self._guard.validate(context)
        violations = [
            PolicyViolation(
                rule_name=violation.rule_name,
                description=violation.description,
                fix=violation.fix,
                rule_metadata=violation.rule_metadata,
                severity="error",
                violating_resources=[
                    PolicyViolatingResource(
                        locations=resource.locations,
                        resource_logical_id=resource.resource_logical_id,
                        template_path=resource.template_path,
                    )
                    for resource in violation.violating_resources
                ],
            )
            for violation in report.violations
        ]
        return PolicyValidationPluginReport(
            success=report.success, violations=violations, plugin_version=self._guard.version
        )


def guard_rule(name: str) -> str:
    """The acknowledgement id of a guard rule, e.g. `s3_bucket_object_lock_enabled_check`."""
    return f"{GUARD_PLUGIN}::{name}"
