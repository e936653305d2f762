"""Figures of the book's computations: one function per figure, the data computed elsewhere.

The computations live in :mod:`vdlib.theory` and :mod:`vdlib.deep` and return numbers; the functions
here only draw them, in the book's style (:mod:`vdlib.book.plotting`), and return the matplotlib
figure (the chapter ends the cell with ``plt.show()``).

* :func:`plot_factor_curve` — the factor c(b) of the mini-batch covariance, with Monte Carlo points
  (:func:`vdlib.theory.minibatch_noise.measured_factors`);
* :func:`plot_noise_geometry` — the ellipses of H and D for least squares
  (:mod:`vdlib.theory.regression`).

Used in: 01_minibatch_noise.
"""
from __future__ import annotations

import numpy as np

from .. import checks
from .plotting import PALETTE, ROLE_COLORS, covariance_ellipse, new_figure

__all__ = ["plot_factor_curve", "plot_noise_geometry"]


def plot_factor_curve(N: int, batch_sizes=(), factors_with=None, errors_with=None, factors_without=None,
                      errors_without=None, n_std: float = 2.0):
    """Figure: the exact factor c(b) for both schemes, with Monte Carlo points (± ``n_std`` s.e.).

    Returns the matplotlib figure (the chapter ends the cell with ``plt.show()``).

    Used in: 01_minibatch_noise
    """
    N = checks.integer(N, "dataset size N", minimum=2)
    fig, ax = new_figure()
    grid = np.arange(1, N + 1)
    ax.plot(grid, np.ones_like(grid, dtype=float), color=ROLE_COLORS["theory"], lw=1.2, ls="--",
            label="with replacement: $1$")
    ax.plot(grid, (1 - grid / N) * N / (N - 1), color=ROLE_COLORS["theory"], lw=1.4,
            label=r"without: $(1-b/N)\,N/(N-1)$")
    b = np.asarray(batch_sizes, dtype=float)
    if factors_with is not None:
        ax.errorbar(b, factors_with, yerr=n_std * np.asarray(errors_with), fmt="s", ms=4, capsize=2,
                    color=PALETTE["orange"], label="Monte Carlo, with")
    if factors_without is not None:
        ax.errorbar(b, factors_without, yerr=n_std * np.asarray(errors_without), fmt="o", ms=4, capsize=2,
                    color=ROLE_COLORS["simulation"], label="Monte Carlo, without")
    ax.set_xlabel("batch size $b$")
    ax.set_ylabel(r"$c(b) = b\,\mathrm{tr}\,\mathrm{Var}(\nabla f_b)\,/\,\mathrm{tr}\,D$")
    ax.set_xlim(0, N + 1)
    ax.set_ylim(-0.05, 1.15)
    ax.legend(loc="lower left", fontsize=8)
    return fig


def plot_noise_geometry(H, diffusions, titles):
    """Figure: one panel per D, showing the ellipse of H and of D rescaled to tr H.

    Each symmetric matrix M is drawn as the ellipse with axes along its eigenvectors and
    semi-axes 2√λ_i (its "2-σ ellipse" if M were a covariance).

    Rescaling only changes the size, so the panels compare *shapes and orientations*: when D
    commutes with H the two ellipses share their axes; when it does not they are tilted
    against each other. Returns the matplotlib figure.

    Used in: 01_minibatch_noise
    """
    H = np.asarray(H, dtype=float)
    if H.shape != (2, 2):
        raise ValueError(f"plot_noise_geometry draws 2-D ellipses; H must be 2×2, got {H.shape}")
    if len(diffusions) != len(titles):
        raise ValueError(f"need one title per diffusion matrix, got {len(diffusions)} matrices and {len(titles)} titles")
    fig, axes = new_figure(ncols=len(diffusions), size="wide")
    axes = np.atleast_1d(axes)
    radius = 2.0 * np.sqrt(np.linalg.eigvalsh(H).max()) * 1.15
    for ax, D, title in zip(axes, diffusions, titles):
        D = np.asarray(D, dtype=float)
        covariance_ellipse(ax, H, color=ROLE_COLORS["theory"], ls="--", label="$H$")
        covariance_ellipse(ax, D * np.trace(H) / np.trace(D), color=ROLE_COLORS["simulation"],
                           label=r"$D\,\cdot\,\mathrm{tr}\,H/\mathrm{tr}\,D$")
        ax.set_xlim(-radius, radius)
        ax.set_ylim(-radius, radius)
        ax.set_aspect("equal")
        ax.set_title(title)
        ax.set_xlabel("$x_1$")
    axes[0].set_ylabel("$x_2$")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(handles))
    return fig
