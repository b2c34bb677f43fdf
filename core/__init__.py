"""Convlab core: datasets, models, training, runs, evaluation, inspection, drawing and plots; no UI."""
