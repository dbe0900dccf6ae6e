"""Python client for the customer segmentation service, sync and async, on httpx.

Retries what may pass (502/503/504, connection failures, timeouts) with backoff, never a 4xx;
splits batches over the service's limit into chunks and merges the answers, from one model
version; returns typed results and raises typed errors.
"""

from segment_client._async import AsyncSegmentationClient
from segment_client._sync import SegmentationClient
from segment_client.errors import (
    AuthenticationError,
    BatchTooLargeError,
    ClientError,
    FieldProblem,
    InvalidInputError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RequestTimeoutError,
    ResponseFormatError,
    SegmentationError,
    ServerError,
    UnavailableError,
    VersionMismatchError,
)
from segment_client.models import (
    Assignment,
    Comparison,
    Customer,
    Explanation,
    Lineage,
    Liveness,
    ModelInfo,
    ModelVersions,
    Readiness,
    SegmentList,
    SegmentProfile,
    SegmentResult,
)
from segment_client.retry import RetryPolicy

__all__ = [
    "Assignment",
    "AsyncSegmentationClient",
    "AuthenticationError",
    "BatchTooLargeError",
    "ClientError",
    "Comparison",
    "Customer",
    "Explanation",
    "FieldProblem",
    "InvalidInputError",
    "InvalidRequestError",
    "Lineage",
    "Liveness",
    "ModelInfo",
    "ModelVersions",
    "NotFoundError",
    "PermissionDeniedError",
    "Readiness",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "SegmentList",
    "SegmentProfile",
    "SegmentResult",
    "SegmentationClient",
    "SegmentationError",
    "ServerError",
    "UnavailableError",
    "VersionMismatchError",
]
