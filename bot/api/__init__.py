"""The REST API under /api (docs/api.md): bearer tokens per project, items in, status and
signed-off labels out, stats, and its OpenAPI description. `build_api` (app.py) makes the
FastAPI app that bot/runtime/server.py mounts beside /slack/events."""
