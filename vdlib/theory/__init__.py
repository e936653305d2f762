"""The theory of Parts I–III and V: closed forms, SymPy derivations, SDE and Fokker–Planck solvers.

Nothing here knows about neural networks (no :mod:`vdlib.deep`, no :mod:`vdlib.analysis`) or about
notebooks (no plotting, no widgets): every function returns numbers or SymPy objects.

==========================  ===================================================================
module                      what is there
==========================  ===================================================================
``vector_calculus``         ∇, ∇·, the matrix divergence (row by row): the book's one convention
``symbolic``                the zero test :func:`~vdlib.theory.symbolic.is_zero`, count moments,
                            Gaussian moments, the FP operator, generator, current, Itô (ch. 01, 03)
``minibatch_noise``         Definition 1: D, the exact mini-batch covariance, enumeration, Monte
                            Carlo (ch. 01)
``regression``              least squares, the exactly solvable model of the noise (ch. 01, 02, 07)
``sgd_symbolic``            SGD as an SDE in SymPy: moment matching, Lyapunov forms (ch. 02)
``sgd``                     many least-squares SGD / SDE chains in torch and their exact
                            covariance (:func:`~vdlib.theory.sgd.run_sgd_chains`; ch. 02, 07)
``linear``                  OU / Lyapunov covariances, Lemma 20, area rates (ch. 02, 07)
``sde``                     Euler–Maruyama for many chains (ch. 03 on)
``fokker_planck``           grid solvers of the Fokker–Planck equation (ch. 03–06, 08)
``potentials``              the toy losses, diffusions and drifts of Part II (ch. 03–09)
``potential_symbolic``      the potential Φ and the force j, Lemma 20 in SymPy (ch. 04, 07, 08)
``free_energy``             Theorem 5: the free energy and its decay (ch. 05, 09)
``transport``               Wasserstein distances and JKO steps (ch. 06)
``critical_shift``          Theorem 22: how far the most likely point moves
                            (:func:`~vdlib.theory.critical_shift.run_moment_chains`; ch. 08)
``vector_fields``           critical points, orbits and angular momentum of planar fields (ch. 09)
``levy``                    α-stable variates, escape from a double well under Gaussian and
                            α-stable noise: Kramers against Imkeller–Pavlyukevich (ch. 13)
``discrete_sgd``            SGD at finite η: exact stationary covariances, SVAG, KL along a
                            Markov chain (ch. 14)
``nonreversible``           OU with an antisymmetric drift: gap, asymptotic variance, the optimal
                            drift; a Langevin/SGLD sampler with a non-reversible term (ch. 15)
``limiting_dynamics``       heavy-ball SGD near a minimum: the underdamped phase-space model, the
                            exact discrete law on least squares, simulated chains (ch. 16)
``toolkit``                 the prerequisites: Brownian sums, Itô's lemma, the formal adjoint,
                            Lyapunov checks, W_p in 1-D and W₂ between Gaussians (ch. 00)
``local_entropy``           local entropy F_γ (SymPy gradient, limits, quadratic), F_γ and Φ on
                            narrow-deep / wide-shallow losses in 1-D and 2-D (ch. 17)
==========================  ===================================================================

Submodules load on first use: ``import vdlib.theory`` is cheap, ``vdlib.theory.sde`` imports torch.
"""
from __future__ import annotations

import importlib

_SUBMODULES = ("vector_calculus", "symbolic", "minibatch_noise", "regression", "sgd_symbolic", "sgd", "linear",
               "sde", "fokker_planck", "potentials", "potential_symbolic", "free_energy", "transport",
               "critical_shift", "vector_fields", "levy", "discrete_sgd", "nonreversible", "limiting_dynamics", "toolkit",
               "local_entropy")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vdlib.theory' has no attribute {name!r}")


__all__ = list(_SUBMODULES)
