"""Analyses of a trained family model: mechanism, detector bench, sweeps, recursive training, reproduce."""
