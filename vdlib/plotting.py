"""One plotting style for the whole book, and the small plot helpers chapters share.

Call :func:`book_style` once in a chapter's setup cell. Plot helpers return the
``matplotlib.figure.Figure`` they draw; chapters end figure cells with ``plt.show()``.
No helper writes files: exporting figures is opt-in via ``VDLIB_SAVE_FIGS=<folder>``.

Used in: every chapter.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Ellipse

# A colour-blind-safe palette (Okabe & Ito), in the order figures use it.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "red": "#D55E00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
# Roles, so that "theory" looks the same in every chapter.
ROLE_COLORS = {
    "simulation": PALETTE["blue"],
    "theory": PALETTE["black"],
    "discrete": PALETTE["red"],
    "continuous": PALETTE["green"],
    "reference": PALETTE["orange"],
}

FIGSIZE = {"single": (5.2, 3.6), "wide": (9.0, 3.6), "square": (4.4, 4.4)}

STYLE = {
    "figure.figsize": FIGSIZE["single"],
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(PALETTE.values())),
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "mathtext.fontset": "cm",
}


def book_style() -> None:
    """Apply the book's matplotlib style (idempotent)."""
    mpl.rcParams.update(STYLE)
    try:  # crisp figures in notebooks and in the HTML build
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")
    except ImportError:  # pragma: no cover - outside IPython
        pass


def new_figure(ncols: int = 1, nrows: int = 1, size: str | tuple = "single", **kwargs):
    """A figure and axes in the book's sizes (``size`` is a name in :data:`FIGSIZE` or a tuple)."""
    figsize = FIGSIZE[size] if isinstance(size, str) else size
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False, **kwargs)
    return fig, (axes[0, 0] if axes.size == 1 else axes.ravel())


def covariance_ellipse(ax, cov, mean=(0.0, 0.0), n_std: float = 2.0, **kwargs) -> Ellipse:
    """Draw the ``n_std``-sigma ellipse of a 2×2 covariance on ``ax`` and return the patch."""
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (2, 2):
        raise ValueError(f"covariance_ellipse needs a 2x2 covariance, got shape {cov.shape}")
    vals, vecs = np.linalg.eigh(cov)
    if vals.min() < -1e-12 * max(1.0, abs(vals.max())):
        raise ValueError(f"covariance is not positive semi-definite (eigenvalues {vals})")
    vals = np.clip(vals, 0.0, None)
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    width, height = 2 * n_std * np.sqrt(vals[1]), 2 * n_std * np.sqrt(vals[0])
    kwargs.setdefault("fill", False)
    kwargs.setdefault("lw", 1.8)
    patch = Ellipse(tuple(mean), width, height, angle=angle, **kwargs)
    ax.add_patch(patch)
    return patch


def maybe_save(fig, name: str) -> Path | None:
    """Save ``fig`` as ``<$VDLIB_SAVE_FIGS>/<name>.pdf`` when that variable is set; else do nothing."""
    folder = os.environ.get("VDLIB_SAVE_FIGS")
    if not folder:
        return None
    path = Path(folder) / f"{name}.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
