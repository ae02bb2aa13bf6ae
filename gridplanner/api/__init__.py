"""The HTTP API (FastAPI), versioned under /api/v1, and the web app at /."""
