"""Progress bars for long computations, shown only when the caller asks for them.

Computation functions (training, the chain engine, per-sample gradients, downloads) take a
``progress: bool`` argument and pass it on here as ``enabled``; they never look at the run profile
themselves. The caller decides: a chapter passes ``progress=cfg.show_progress`` (on only under the
``full`` profile, see :class:`vdlib.config.Config`), a command line its ``--progress`` option.

The bar is ``tqdm.auto``'s (a widget in a notebook, text in a terminal); a disabled bar costs
nothing and prints nothing.
"""
from __future__ import annotations

__all__ = ["progress"]


def progress(iterable=None, *, enabled: bool, **kwargs):
    """A ``tqdm.auto`` progress bar over ``iterable`` (or a manual one, with ``total=``), shown only
    when ``enabled`` is true; ``kwargs`` go to :class:`tqdm.auto.tqdm` (``desc``, ``unit``, ...)."""
    from tqdm.auto import tqdm

    if not isinstance(enabled, bool):
        raise TypeError(f"progress: enabled must be True or False, got {enabled!r}")
    return tqdm(iterable, disable=not enabled, **kwargs)
