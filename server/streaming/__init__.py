"""Live and replayed sample streams: admission, one registry owning each computation, results, wire encoding."""
