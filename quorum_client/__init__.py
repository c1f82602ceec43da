"""The Python client of Quorum's REST API, and the webhook signature check. Depends on
httpx and the standard library only, so a model pipeline can use it without the server."""

from quorum_client.webhooks import verify_webhook

__all__ = ["verify_webhook"]
