"""What the lab offers: bundled models, presets, lessons, the URL-state codec, the vendored plotly.js."""
