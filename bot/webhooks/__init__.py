"""Signed webhooks: events emitted with the change they announce, sent in order per
webhook with retries (docs/webhooks.md)."""
