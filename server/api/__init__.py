"""The HTTP API: routes, their dependencies (validation and lookups only) and the request/response schemas."""
