"""Operator CLI for release control: `python -m mlopsctl --help`. No CDK imports."""
