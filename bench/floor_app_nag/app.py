"""Second floor for bench/synth.sh: the same one-bucket app with cdk-nag's AwsSolutions checks on.

It shows how much of the app's synth time is the fixed cost of running the checks at all.
Never deployed, so its bucket's findings are acknowledged rather than fixed.
"""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

app = cdk.App()
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
stack = cdk.Stack(app, "Floor", env=cdk.Environment(account="111111111111", region="eu-west-1"))
bucket = s3.Bucket(stack, "Bucket")
cdk.Validations.of(bucket).acknowledge(
    cdk.Acknowledgment(id="AwsSolutions-S1", reason="Benchmark floor, never deployed."),
    cdk.Acknowledgment(id="AwsSolutions-S10", reason="Benchmark floor, never deployed."),
)
app.synth()
