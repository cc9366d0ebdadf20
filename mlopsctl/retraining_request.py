"""The manual retraining request `mlopsctl retrain` sends, refused here when the function would refuse it.

The request's contract (detail type, the two length limits) is stated in contracts.py, which
the start-retraining function imports too; this module fits a request within it.
"""

from __future__ import annotations

from contracts import RETRAINING_REASON_MAX_LENGTH as REASON_MAX_LENGTH
from contracts import RETRAINING_REQUESTED_BY_MAX_LENGTH as REQUESTED_BY_MAX_LENGTH


class RequestError(ValueError):
    """The request would be refused by the function; the message says which field and why."""


def requester(caller_arn: str) -> str:
    """Who asks, in at most REQUESTED_BY_MAX_LENGTH characters: the caller's ARN when it fits.

    GetCallerIdentity returns arn:<partition>:sts::<account>:assumed-role/<role>/<session> for a
    role session; an IAM Identity Center role name is up to 64 characters and the session name
    (often an e-mail address) up to 64, so such an ARN can exceed the limit. It is then shortened
    to `<account>:<kind>/<role>/<session>`, and if that is still too long to
    `<account>:<kind>/.../<session>` (a session or user name is at most 64 characters).
    """
    if len(caller_arn) <= REQUESTED_BY_MAX_LENGTH:
        return caller_arn
    parts = caller_arn.split(":", 5)
    if len(parts) != 6 or not parts[4] or "/" not in parts[5]:
        raise RequestError(
            f"Caller identity {caller_arn!r} has {len(caller_arn)} characters (at most {REQUESTED_BY_MAX_LENGTH}) "
            "and is not an ARN that can be shortened to its account and name."
        )
    account, resource = parts[4], parts[5]
    kind, _, name = resource.rpartition("/")
    for short in (f"{account}:{resource}", f"{account}:{kind.split('/', 1)[0]}/.../{name}"):
        if len(short) <= REQUESTED_BY_MAX_LENGTH:
            return short
    raise RequestError(
        f"Caller identity {caller_arn!r}: even its account and name exceed {REQUESTED_BY_MAX_LENGTH} characters."
    )


def checked_reason(reason: str) -> str:
    """The reason as sent (surrounding blanks removed), or RequestError when the function would refuse it."""
    stripped = reason.strip()
    if not stripped:
        raise RequestError("--reason must say why the model is retrained.")
    if len(stripped) > REASON_MAX_LENGTH:
        raise RequestError(
            f"--reason has {len(stripped)} characters; the retraining function accepts at most {REASON_MAX_LENGTH}."
        )
    return stripped
