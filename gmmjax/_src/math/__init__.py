"""Mathematics that knows nothing of mixtures: numerics, factorisations, matrix functions."""
