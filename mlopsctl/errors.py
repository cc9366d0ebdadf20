"""A failure or refusal the CLI reports as one line and a non-zero exit code."""


class OperatorError(Exception):
    """Raised with a one-line message that says what is wrong and, where it helps, what to do."""


class NothingApproved(OperatorError):
    """The model package group has no Approved version yet (a new installation)."""
