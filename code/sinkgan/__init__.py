"""Reproduction of "Sinkhorn divergence GANs trained with sequential SGDA" (IEEE Access 2021) and of the
Sinkhorn Natural Gradient (NeurIPS 2020); the command line is ``sinkgan`` (:mod:`sinkgan.cli`)."""

__version__ = "0.1.0"
