"""Short in-memory runs of the chain engine: the epoch loops of chapters 11 and 12.

The long recorded runs (checkpoints, memory-mapped records, Yaida's FDR1) go through
:func:`~vdlib.deep.chains.run_network_chains`. The chapters' live cells need two simpler loops over a
:class:`~vdlib.deep.chains.ChainEngine`, kept here so that a reader can rerun them on other data:

* :func:`weight_path` — the weights of every chain before the first epoch and after each one;
* :func:`short_run` — chains from given starting weights, SGD or the reversible control (b) of
  chapter 11 (full-batch gradient descent with isotropic noise matched to SGD's noise in trace);
  returns the weight paths (chapter 11's interactive run and exercise);
* :func:`lr_groups` — groups of chains at several learning rates in one engine, with the full-batch
  loss, gradient norm, weight norm and squared epoch displacement after every epoch; a chain that
  diverges is frozen at NaN while the others go on (chapter 12's scaling experiments).

Chain ``i`` of a run has the seed ``first_seed + i`` (its mini-batch and noise generators), so a
run is fixed by its arguments and does not depend on the global random state.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .. import checks
from .chains import ChainEngine, Layout, matched_noise_std

__all__ = ["weight_path", "short_run", "lr_groups"]


def _epochs(epochs) -> int:
    return checks.integer(epochs, "epochs", minimum=0)


def weight_path(engine: ChainEngine, epochs: int) -> np.ndarray:
    """Run ``engine`` for ``epochs`` epochs; return its weights, ``(chains, epochs + 1, d)`` float array.

    Row 0 of each chain is the state before the first epoch, row ``e`` the state after epoch ``e``.
    """
    epochs = _epochs(epochs)
    W = np.empty((engine.C, epochs + 1, engine.d))
    W[:, 0] = engine.theta.cpu().numpy()
    for e in range(epochs):
        engine.run_epoch()
        W[:, e + 1] = engine.theta.cpu().numpy()
    return W


def short_run(X, y, theta0, lay: Layout, *, lr: float, batch_size: int, momentum: float, epochs: int,
              chains: int = 2, first_seed: int = 0, langevin: bool = False, noise_batches: int = 16) -> np.ndarray:
    """``chains`` chains of SGD (or of the reversible control) from ``theta0``; their weight paths.

    ``theta0`` is one weight vector ``(d,)`` / ``(1, d)`` shared by all chains, or ``(chains, d)``.
    With ``langevin=True`` the chains run full-batch gradient descent with isotropic Gaussian noise
    whose trace matches SGD's mini-batch noise at ``theta0`` (measured from ``noise_batches``
    mini-batches of size ``batch_size`` with the seed ``first_seed``;
    :meth:`~vdlib.deep.chains.ChainEngine.noise_trace`, :func:`~vdlib.deep.chains.matched_noise_std`).
    Returns :func:`weight_path`'s ``(chains, epochs + 1, d)`` array.
    """
    chains = checks.integer(chains, "chains", minimum=1)
    epochs = _epochs(epochs)
    kw: dict[str, Any] = dict(seeds=[first_seed + i for i in range(chains)], lr=lr, momentum=momentum,
                              batch_size=batch_size)
    if langevin:
        probe = ChainEngine(X, y, theta0, lay, **kw)
        kw.update(full_batch=True,
                  noise_std=matched_noise_std(probe.noise_trace(noise_batches, seed=first_seed)["trace"], lay.d))
    return weight_path(ChainEngine(X, y, theta0, lay, **kw), epochs)


def lr_groups(X, y, theta0, lay: Layout, lrs: Sequence[float], batch_size: int, *, chains: int, epochs: int,
              momentum: float = 0.0, replacement: bool = False, first_seed: int = 0):
    """One group of ``chains`` chains per learning rate in ``lrs``, run together for ``epochs`` epochs.

    Returns ``(out, engine)`` where ``out[lr]`` is a dict of per-chain arrays for that group:
    ``loss`` and ``grad_norm`` ``(chains, epochs + 1)`` (full-batch objective and ‖∇f‖/√d before the
    first epoch and after each, :meth:`~vdlib.deep.chains.ChainEngine.evaluate`), ``norm``
    ``(chains, epochs + 1)`` (‖θ‖), ``disp`` ``(chains, epochs)`` (‖θ_{e+1} − θ_e‖² per epoch) and
    ``diverged`` ``(chains,)`` (the final loss is not finite). A chain whose weights become NaN/inf
    is frozen at NaN; the others go on. Group ``k``'s chain ``i`` has the seed
    ``first_seed + k * chains + i``.
    """
    lrs = list(lrs)
    if not lrs:
        raise ValueError("lrs is empty: give at least one learning rate")
    chains = checks.integer(chains, "chains", minimum=1)
    epochs = _epochs(epochs)
    C = chains * len(lrs)
    eng = ChainEngine(X, y, theta0, lay, seeds=[first_seed + i for i in range(C)],
                      lr=[lr for lr in lrs for _ in range(chains)], momentum=momentum, batch_size=batch_size,
                      replacement=replacement)
    loss = np.full((C, epochs + 1), np.nan)
    gn, norm = np.full_like(loss, np.nan), np.full_like(loss, np.nan)
    disp = np.full((C, epochs), np.nan)
    prev = eng.theta.clone()
    for e in range(epochs + 1):
        if e:
            eng.run_epoch()
            disp[:, e - 1] = (eng.theta - prev).square().sum(1).cpu().numpy()
            prev = eng.theta.clone()
        ev = eng.evaluate()
        loss[:, e], gn[:, e] = ev["loss"].cpu().numpy(), ev["grad_norm"].cpu().numpy()
        norm[:, e] = eng.theta.norm(dim=1).cpu().numpy()
        bad = ~torch.isfinite(eng.theta).all(1)
        if bad.any():  # freeze diverged chains at NaN rather than stop the others
            eng.theta[bad] = float("nan")
    out = {}
    for i, lr in enumerate(lrs):
        s = slice(i * chains, (i + 1) * chains)
        out[lr] = dict(loss=loss[s], grad_norm=gn[s], disp=disp[s], norm=norm[s], diverged=~np.isfinite(loss[s, -1]))
    return out, eng
