"""Discrete optimal transport solvers behind one interface (:mod:`.solvers`)."""
