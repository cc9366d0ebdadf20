"""Third floor for bench/synth.sh: the one-bucket app with every check `make synth` runs in-process.

cdk-nag's AwsSolutions checks and the app's own Control Tower plugin (constructs/security/control_tower.py),
registered on the App as app.py does: it shows the fixed cost of running the checks at all, so the
app's ratio to it is what building the app itself costs. Never deployed, so its bucket's findings
are acknowledged rather than fixed.
"""

import sys
from pathlib import Path

# The repository root, so that the app's `constructs` folder extends the `constructs` package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from constructs.security.control_tower import ControlTowerRules, guard_rule

app = cdk.App()
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app), ControlTowerRules())
stack = cdk.Stack(app, "Floor", env=cdk.Environment(account="111111111111", region="eu-west-1"))
bucket = s3.Bucket(stack, "Bucket")
cdk.Validations.of(bucket).acknowledge(
    cdk.Acknowledgment(id="AwsSolutions-S1", reason="Benchmark floor, never deployed."),
    cdk.Acknowledgment(id="AwsSolutions-S10", reason="Benchmark floor, never deployed."),
    *(
        cdk.Acknowledgment(id=guard_rule(rule), reason="Benchmark floor, never deployed.")
        for rule in (
            "s3_bucket_acl_prohibited_check",
            "s3_bucket_default_encryption_kms_check",
            "s3_bucket_level_public_access_prohibited_check",
            "s3_bucket_logging_enabled_check",
            "s3_bucket_object_lock_enabled_check",
            "s3_bucket_versioning_enabled_check",
            "s3_event_notifications_enabled_check",
            "s3_lifecycle_policy_check",
            "s3_version_lifecycle_policy_check",
        )
    ),
)
app.synth()
