"""Physical names that stacks, the Lambda functions and the operator CLI share, in one place."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# CreateModel ModelName and CreateEndpointConfig EndpointConfigName: at most 63 letters, digits and
# hyphens (SageMaker API Reference; tests/test_aws_contracts.py checks botocore's pattern).
GENERATED_NAME_MAX = 63
# UTC to the second, two-digit year: 12 digits, so a generated name fits beside the longest endpoint name.
_STAMP = "%y%m%d%H%M%S"
_STAMP_DIGITS = 12


class Generated(StrEnum):
    """What made a Model and EndpointConfig at run time: the letter after `<endpoint>-` in its name."""

    ROLLBACK = "r"
    SHADOW = "s"


@dataclass(frozen=True)
class ResourceNames:
    """Physical names that something outside one stack must know, in one place.

    Everything else keeps CloudFormation-generated names. These are known to other stacks
    (event patterns, cross-account roles), to the Lambda functions (environment variables)
    and to the operator CLI, which finds them from cdk.json alone.
    """

    project: str

    # Kept stable across releases: SageMaker requires the same variant name for blue/green.
    variant: str = "AllTraffic"
    # The candidate's variant during a shadow test (mlopsctl shadow-test, the dashboard).
    shadow_variant: str = "Shadow"

    # Principal tag that admits a toolchain-account identity to the operator roles when no
    # operator_principals are configured; its value must be the project name.
    operator_tag_key: str = "mlops-operator"

    @property
    def model_package_group(self) -> str:
        return self.project

    @property
    def model_build_pipeline(self) -> str:
        return f"{self.project}-model-build"

    @property
    def drift_metric_namespace(self) -> str:
        return f"{self.project}/Drift"

    @property
    def manual_retraining_source(self) -> str:
        """EventBridge `source` of a manual retraining request (a custom event)."""
        return f"{self.project}.retraining"

    def endpoint(self, env: str) -> str:
        return f"{self.project}-{env}"

    def drift_check_pipeline(self, env: str) -> str:
        return f"{self.project}-{env}-drift-check"

    def drift_alarm_prefix(self, env: str) -> str:
        return f"{self.project}-{env}-drift-"

    def health_alarm_prefix(self, env: str) -> str:
        """Alarms on the monitoring itself (e.g. the drift check stopped): they notify, never retrain.

        Environment names hold no '-', so no name under this prefix starts with any
        environment's drift_alarm_prefix, the names the retraining function accepts.
        """
        return f"{self.project}-{env}-health-"

    def rollback_alarm_prefix(self, env: str) -> str:
        return f"{self.project}-{env}-rollback-"

    def new_fleet_alarm_prefix(self, env: str) -> str:
        """Rollback alarms that watch the fleet of the EndpointConfig in the serving template only."""
        return f"{self.rollback_alarm_prefix(env)}new-fleet-"

    def ledger_parameter(self, env: str) -> str:
        """SSM parameter whose version history is the known-good ledger of `env`."""
        return f"/{self.project}/{env}/known-good"

    def deploy_verifier_role(self, env: str) -> str:
        """Role in `env`'s account that the CI/CD pipeline assumes to verify and record a deploy."""
        return f"{self.project}-{env}-deploy-verifier"

    def deploy_check_role(self, env: str) -> str:
        """CodeBuild role of the pipeline's checks after `env`'s deploy: all the verifier role trusts."""
        # At most 32 + 1 + 16 + 13 = 62 characters; IAM role names allow 64.
        return f"{self.project}-{env}-deploy-check"

    @property
    def restores_to_tag(self) -> str:
        """Tag key on a shadow test's EndpointConfig: the config the endpoint returns to after the test."""
        return f"{self.project}:restores-to"

    @property
    def endpoint_resource_tag(self) -> str:
        """Tag key on the Models and EndpointConfigs made for an endpoint; the value is the endpoint's name."""
        return f"{self.project}:endpoint"

    def operator_role(self, env: str) -> str:
        """Role in `env`'s account that mlopsctl assumes to act on that environment (and, in the
        model-build environment, on the registry)."""
        return f"{self.project}-{env}-operator"

    @property
    def delivery_pipeline(self) -> str:
        """The CodePipeline that tests, synthesizes and promotes the app through every environment."""
        return f"{self.project}-pipeline"

    def generated(self, env: str, kind: Generated, at: datetime) -> str:
        """`<endpoint>-<kind><yymmddHHMMSS>` (UTC): the one rule for every Model and EndpointConfig mlopsctl creates.

        The endpoint part is always whole, so the IAM scope `generated_pattern` allows the name: at
        the longest endpoint name config accepts (48 characters) the name has 62 of SageMaker's 63.
        """
        return f"{self.endpoint(env)}-{kind.value}{at.strftime(_STAMP)}"

    def generated_pattern(self, env: str, kind: Generated) -> str:
        """The IAM resource-name pattern of every name `generated` gives for `kind`."""
        return f"{self.endpoint(env)}-{kind.value}*"

    def generated_regex(self, env: str, kind: Generated) -> re.Pattern[str]:
        """Exactly the names `generated` gives for `kind` (cleanup recognizes them by name)."""
        return re.compile(rf"{re.escape(self.endpoint(env))}-{kind.value}[0-9]{{{_STAMP_DIGITS}}}")

    def guard_alarm_prefix(self, env: str) -> str:
        """Copies of the new-fleet alarms that mlopsctl points at a config it deploys (see mlopsctl/guard.py)."""
        return f"{self.rollback_alarm_prefix(env)}for-"

    def guard_alarm(self, env: str, config_name: str, watch: str) -> str:
        """The copy of the new-fleet alarm `watch` (e.g. "5xx-rate") that watches the fleet of `config_name`."""
        return f"{self.guard_alarm_prefix(env)}{config_name}-{watch}"

    def whole_endpoint_alarm_prefix(self, env: str) -> str:
        """Rollback alarms on the whole endpoint (EndpointName and VariantName only)."""
        return f"{self.rollback_alarm_prefix(env)}endpoint-"

    def stack(self, env: str, kind: str) -> str:
        return f"{self.project}-{env}-{kind}"

    def limited_names(self, env: str) -> tuple[tuple[str, str, int], ...]:
        """(what, name, AWS's maximum length) of every physical name that grows with the project and `env`.

        The limits are AWS's (tests/test_aws_contracts.py checks each against botocore's service
        model or the documented rule); the drift-check pipeline's name is also the name of its
        Model Monitor schedule, whose limit is lower than a pipeline's.
        """
        return (
            ("IAM role name", self.deploy_verifier_role(env), 64),
            ("SageMaker endpoint name", self.endpoint(env), 63),
            ("SageMaker monitoring schedule name", self.drift_check_pipeline(env), 63),
            ("SageMaker model package group name", self.model_package_group, 63),
            ("SageMaker pipeline name", self.model_build_pipeline, 256),
            ("CodePipeline pipeline name", self.delivery_pipeline, 100),
            ("CloudFormation stack name", self.stack(env, "model-build"), 128),
            ("SSM parameter name", self.ledger_parameter(env), 1011),
            *(
                (f"SageMaker model name mlopsctl generates ({kind.name.lower()})", name, GENERATED_NAME_MAX)
                for kind in Generated
                for name in [self.generated(env, kind, datetime(2099, 12, 31, 23, 59, 59))]
            ),
        )


# SSM refuses parameter names that start with these (case-insensitive; "/aws/..." included) and
# EventBridge refuses custom events whose source starts with "aws."; the project name starts the
# ledger parameter's name and the manual retraining event's source.
RESERVED_PROJECT_PREFIXES = ("aws", "ssm")


def physical_name_problem(project: str, env_names: Sequence[str]) -> str | None:
    """What a project name must be instead, if AWS would refuse it inside a physical name; else None."""
    if project.lower().startswith(RESERVED_PROJECT_PREFIXES):
        return (
            "a name that does not start with 'aws' or 'ssm', which SSM refuses at the start of a parameter name "
            "such as the ledger's /<project>/<env>/known-good (and EventBridge refuses 'aws.' as an event source)"
        )
    names = ResourceNames(project)
    for env in env_names:
        for what, name, limit in names.limited_names(env):
            if len(name) > limit:
                return (
                    f"at most {len(project) - (len(name) - limit)} characters with environment '{env}', because "
                    f"the {what} '{name}' has {len(name)} characters and AWS allows {limit}"
                )
    return None
