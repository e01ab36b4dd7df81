"""boto3 clients for the aws provider, and AWS failures turned into errors a user can act on.

Production and the emulator differ only in the endpoint URL: credentials come from the standard
chain (environment, profile, SSO, instance role) in both, so a missing credential fails the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config as BotoConfig

from kit.errors import KitError

T = TypeVar("T")

CREDENTIALS_HINT = (
    "Set AWS_PROFILE (after `aws configure` or `aws sso login`) or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, then rerun"
)
_AUTH_CODES = {
    "AuthFailure",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
_DENIED_CODES = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}


class Clients:
    """One region's clients; `endpoint` set only for an emulator such as moto."""

    def __init__(self, region: str, endpoint: str = "", session: boto3.Session | None = None) -> None:
        self.region = region
        self.endpoint = endpoint
        self.session = session or boto3.Session(region_name=region)
        # Few, quick retries: the preflight must fail in seconds, not after botocore's backoff.
        self._config = BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                # boto3-stubs type client() by each service's literal name; this cache takes any name
                # as a str and hands the client on as Any, so no overload can match a plain str.
                service,  # type: ignore[call-overload]
                region_name=self.region,
                endpoint_url=self.endpoint or None,
                config=self._config,
            )
        return self._clients[service]

    @property
    def ec2(self) -> Any:
        return self.client("ec2")


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, doing: str) -> KitError:
    """The KitError for an AWS failure while `doing` something (e.g. 'reading the vCPU quotas')."""
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return KitError(f"no AWS credentials found ({doing})", CREDENTIALS_HINT)
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return KitError(f"AWS profile not found ({doing}): {exc}", "Fix AWS_PROFILE or run `aws configure`")
    if isinstance(exc, botocore.exceptions.TokenRetrievalError | botocore.exceptions.SSOError):
        return KitError(f"AWS SSO session expired ({doing})", "Run `aws sso login` and rerun")
    if isinstance(exc, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectTimeoutError):
        return KitError(
            f"cannot reach the AWS API ({doing}): {exc}",
            "Check the network and [aws] region (and [aws] endpoint, which only an emulator sets)",
        )
    code = error_code(exc)
    message = str(exc)
    if code in _AUTH_CODES:
        return KitError(f"AWS rejected the credentials ({doing}): {code}", CREDENTIALS_HINT)
    if code in _DENIED_CODES:
        return KitError(
            f"the AWS credentials may not do this ({doing}): {code}",
            "Use credentials allowed ec2:*, sts:GetCallerIdentity and servicequotas:GetServiceQuota",
        )
    return KitError(f"AWS call failed ({doing}): {message}", "Rerun with --debug for the full response")


@contextmanager
def calling(doing: str) -> Iterator[None]:
    """Turn any boto3/botocore failure inside the block into a KitError naming what was being done."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise translate(exc, doing) from exc


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def retrying(
    action: Callable[[], T],
    *,
    retry_codes: set[str],
    attempts: int,
    sleep: Callable[[float], None],
    delay: float = 5.0,
) -> T:
    """Call `action`, retrying AWS errors whose code is in `retry_codes` (eventual consistency)."""
    for attempt in range(attempts):
        try:
            return action()
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in retry_codes or attempt == attempts - 1:
                raise
            sleep(delay)
    raise AssertionError("unreachable")
