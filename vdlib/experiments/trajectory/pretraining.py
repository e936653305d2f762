"""The data of a trajectory run (the paper's MNIST or its stand-in, down-sampled to 7×7, a class subset)
and the pre-training of each chain's network to zero training error."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ...deep import chains as ch
from .protocol import Protocol, _init_seeds, _n_init, _seed

# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
def load_data(p: Protocol, root=None):
    """``(X, y, info)``: the 7×7 class subset as tensors (X (N, 49) float32 in [0, 1], y int64) and a dict
    with the dataset name, source, note and a fingerprint."""
    from ...deep import data as D

    name, why = D.mnist_choice(p.dataset, root)
    note = "" if name == "mnist" else why
    ds = D.load(name, root)
    x, y = ds.split("train")
    xs, ys = D.class_subset(x, y, p.classes, per_class=p.per_class, seed=p.data_seed)
    x7 = D.downsample(xs, 7, method=p.downsample).reshape(len(ys), 49) / np.float32(255.0)
    X = torch.from_numpy(np.ascontiguousarray(x7, dtype=np.float32))
    Y = torch.from_numpy(np.asarray(ys, dtype=np.int64))
    info = {"dataset": name, "source": ds.source, "note": note, "classes": list(p.classes),
            "class_names": [ds.classes[c] for c in p.classes], "N": int(len(Y)),
            "fingerprint": float(X.double().sum()) + 1e-3 * float((X.double() ** 2).sum())}
    return X, Y, info


# --------------------------------------------------------------------------------------------------
# pre-training
# --------------------------------------------------------------------------------------------------
def pretrain(X, y, p: Protocol, batchnorm: bool, device=None, check_every: int = 5) -> dict[str, Any]:
    """Train fresh networks (as many as the largest group with this architecture) to zero training error.

    The error is checked every ``check_every`` epochs (and at the last). Returns ``theta`` (chains, d):
    each chain's weights at the first check with zero error (else at its lowest error), ``epochs`` (that
    epoch per chain), ``error`` (the training error there) and ``reached_zero`` (bool per chain).
    """
    lay = ch.layout(p.model, len(p.classes), batchnorm=batchnorm)
    n = max(1, _n_init(p, batchnorm))
    theta0 = ch.init_weights(lay, _init_seeds(p, n))
    eng = ch.ChainEngine(X, y, theta0, lay, seeds=[_seed(p, 3, int(batchnorm), i) for i in range(n)],
                         lr=p.pretrain_lr, momentum=0.9, weight_decay=p.weight_decay, batch_size=p.batch_size,
                         replacement=p.replacement, device=device)
    ev = eng.evaluate()
    best = eng.theta.clone()
    best_err = ev["error"].clone()
    best_epoch = torch.zeros(n, dtype=torch.int64)
    done = best_err == 0
    for e in range(1, p.pretrain_max_epochs + 1):
        if bool(done.all()):
            break
        eng.run_epoch()
        if e % check_every and e != p.pretrain_max_epochs:
            continue
        ev = eng.evaluate()
        if not bool(torch.isfinite(ev["loss"]).all()):
            raise ch.TrajectoryDiverged(
                f"pre-training diverged at epoch {e} (lr={p.pretrain_lr}): lower pretrain_lr", epoch=e,
                group="pretrain", chains=torch.nonzero(~torch.isfinite(ev["loss"])).view(-1).tolist(),
                checkpoint_epoch=None)
        better = (~done) & (ev["error"] < best_err)
        best[better] = eng.theta[better]
        best_err[better] = ev["error"][better]
        best_epoch[better] = e
        done = done | (ev["error"] == 0)
    return {"theta": best.cpu(), "epochs": best_epoch.tolist(), "error": best_err.double().cpu().tolist(),
            "reached_zero": (best_err == 0).tolist(), "d": lay.d}
