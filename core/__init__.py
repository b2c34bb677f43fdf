"""Convlab core: datasets, models, training, runs, evaluation, inspection, drawing; no UI."""
