"""The FastAPI routers: pages, runs, streams, results, analysis."""
