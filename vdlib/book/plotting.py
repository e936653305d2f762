"""One plotting style for the whole book, and the small plot helpers chapters share.

Call :func:`book_style` once in a chapter's setup cell. Plot helpers return the
``matplotlib.figure.Figure`` they draw; chapters end figure cells with ``plt.show()``.
No helper writes files.

Used in: every chapter.
"""
from __future__ import annotations


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


# --------------------------------------------------------------------------------------------
# chapter 09: streamlines and critical points of planar vector fields
# --------------------------------------------------------------------------------------------
def _xy_axes(X, Y):
    """1-D x and y coordinates of a meshgrid in either indexing, and whether it is "ij"."""
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if X.ndim == 1 and Y.ndim == 1:
        return X, Y, None
    if X.ndim != 2 or X.shape != Y.shape:
        raise ValueError(f"X and Y must be 1-D coordinates or a meshgrid of equal 2-D shapes, got {X.shape}, {Y.shape}")
    if np.allclose(X, X[:1, :]) and np.allclose(Y, Y[:, :1]):      # indexing="xy"
        return X[0, :], Y[:, 0], False
    if np.allclose(X, X[:, :1]) and np.allclose(Y, Y[:1, :]):      # indexing="ij"
        return X[:, 0], Y[0, :], True
    raise ValueError("X and Y must come from np.meshgrid (indexing 'xy' or 'ij') on a rectangular grid")


def streamlines(ax, X, Y, U, V, *, density: float = 1.2, color=None, width_by_speed: bool = True,
                lw_range=(0.4, 2.4), arrowsize: float = 0.9, **kwargs):
    """Streamlines of the planar field (U, V) on a grid, line width ∝ speed (as in Fig. 4 of the paper).

    ``X, Y`` are 1-D evenly spaced coordinates or a meshgrid in either indexing (``"xy"`` or
    ``"ij"``); ``U, V`` have the meshgrid's shape (for 1-D coordinates, shape (len(Y), len(X))
    as ``np.meshgrid`` gives by default). With ``width_by_speed`` the line width grows linearly
    from ``lw_range[0]`` at the slowest to ``lw_range[1]`` at the fastest point. Extra keywords go
    to ``ax.streamplot``. Returns the ``StreamplotSet``.

    Used in: 09_limit_cycles
    """
    x, y, ij = _xy_axes(X, Y)
    U, V = np.asarray(U, dtype=float), np.asarray(V, dtype=float)
    if ij:
        U, V = U.T, V.T
    if U.shape != (y.size, x.size) or V.shape != U.shape:
        raise ValueError(
            f"U and V must have the grid's shape {(y.size, x.size)} (rows: y, columns: x), got {U.shape} and {V.shape}"
        )
    if not (np.all(np.isfinite(U)) and np.all(np.isfinite(V))):
        raise ValueError("U and V must be finite everywhere on the grid")
    lo, hi = lw_range
    if not 0 < lo <= hi:
        raise ValueError(f"lw_range must be (min, max) with 0 < min <= max, got {lw_range}")
    if width_by_speed:
        speed = np.hypot(U, V)
        span = speed.max() - speed.min()
        lw = lo + (hi - lo) * ((speed - speed.min()) / span if span > 0 else np.zeros_like(speed))
        kwargs.setdefault("linewidth", lw)
    kwargs.setdefault("color", ROLE_COLORS["theory"] if color is None else color)
    return ax.streamplot(x, y, U, V, density=density, arrowsize=arrowsize, **kwargs)


CRITICAL_POINT_STYLE = {
    "saddle": dict(marker="X", color=PALETTE["orange"]),
    "stable node": dict(marker="o", color=PALETTE["red"]),
    "stable focus": dict(marker="o", color=PALETTE["red"]),
    "unstable node": dict(marker="o", color="white", mec=PALETTE["red"]),
    "unstable focus": dict(marker="o", color="white", mec=PALETTE["red"]),
    "centre (linear)": dict(marker="D", color=PALETTE["purple"]),
    "degenerate": dict(marker="s", color="0.5"),
}


def critical_points_markers(ax, points, *, size: float = 8.0, legend: bool = True):
    """Mark critical points on ``ax``: filled red dots (stable), orange crosses (saddles), ….

    ``points`` is a sequence of objects with ``.point`` (x, y) and ``.kind`` (as returned by
    ``vdlib.theory.vector_fields.critical_points``) or of pairs ``((x, y), kind)``. Each kind appears
    once in the legend (``legend=True``). Returns the list of ``Line2D`` handles.

    Used in: 09_limit_cycles
    """
    handles, seen = [], set()
    for p in points:
        xy, kind = (p.point, p.kind) if hasattr(p, "point") else p
        if kind not in CRITICAL_POINT_STYLE:
            raise ValueError(f"unknown critical-point kind {kind!r}; known: {', '.join(CRITICAL_POINT_STYLE)}")
        style = dict(CRITICAL_POINT_STYLE[kind])
        style.setdefault("mec", "black")
        label = kind if (legend and kind not in seen) else None
        seen.add(kind)
        (h,) = ax.plot([xy[0]], [xy[1]], ls="none", ms=size, zorder=5, label=label, **style)
        handles.append(h)
    return handles
