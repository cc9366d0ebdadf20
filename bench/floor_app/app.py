"""The floor for bench/synth.sh: one bucket, synthesized exactly like the real app."""

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "Floor", env=cdk.Environment(account="111111111111", region="eu-west-1"))
s3.Bucket(stack, "Bucket")
app.synth()
