"""Mixtures as pytrees, their value rules, and the lifting of single-pair kernels."""
