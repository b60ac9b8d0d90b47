"""Density learning on a fixed basis: the grid, the weight learner, the paper's baselines.

References:
    W. Lu, D. Ding, F. Wu, G. Yuan, "An efficient Gaussian mixture model and its application
    to neural network" (2023): the fixed grid basis, the binned loss (Eq. 5), Algorithms 1
    and 2 and the density information loss (Eq. 9).

    K. You, "L2 distance between Gaussian Mixture Models" (2021): the closed-form Gaussian
    product integrals behind the L2 loss and the least-squares criterion.
"""
