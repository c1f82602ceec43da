"""The Python client of Quorum's REST API, and the webhook signature check. Depends on
httpx and the standard library only, so a model pipeline can use it without the server."""

from quorum_client.client import Client, SubmitResult
from quorum_client.errors import ItemFailedError, LabelTimeoutError, QuorumError
from quorum_client.feed import LabelFeed
from quorum_client.webhooks import verify_webhook

__all__ = [
    "Client",
    "ItemFailedError",
    "LabelFeed",
    "LabelTimeoutError",
    "QuorumError",
    "SubmitResult",
    "verify_webhook",
]
