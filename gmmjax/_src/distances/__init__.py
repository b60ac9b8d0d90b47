"""Distances and divergences between mixtures, built on the kernels and the OT solvers."""
