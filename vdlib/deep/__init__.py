"""Part IV on real networks: data, models, training, per-sample gradients, the spectrum of D, and many
SGD chains at once.

==================  =================================================================================
module              what is there
==================  =================================================================================
``data``            real image datasets, offline first, honest about their source (a subpackage: registry,
                    readers, search, the bundled MNIST-10k, downloads, :func:`~vdlib.deep.data.mnist_choice`,
                    transforms)
``models``          small-lenet, small-fc, tiny-fc, small-allcnn (:func:`~vdlib.deep.models.build`)
``train``           mini-batch SGD training with exact resume (:func:`~vdlib.deep.train.train`)
``persample``       per-sample gradients, streamed in chunks (:func:`~vdlib.deep.persample.per_sample_gradients`)
``noise_spectrum``  the D-spectrum engine: out-of-core accumulation, three eigenvalue routes, ranks
                    (:func:`~vdlib.deep.noise_spectrum.diffusion_spectrum`)
``chains``          the many-chain engine of tiny-fc / small-fc (a subpackage: network, batched forward and
                    backward, engine, records, :func:`~vdlib.deep.chains.run_network_chains`, directions)
``runs``            the short in-memory chain loops of chapters 11 and 12
``svag``            SVAG (Li, Malladi & Arora 2021) on the paper's small networks (ch. 14)
``entropy_sgd``     Entropy-SGD against SGD at equal gradients; Hessian power iteration, perturbation
                    flatness (ch. 17)
==================  =================================================================================

Computation here takes ``progress: bool`` and never looks at the run profile (the caller passes
``progress=cfg.show_progress``); nothing here imports plotting, widgets or IPython. The Definition-1
formulas (D of a gradient matrix held in memory, the exact mini-batch covariance) are in
:mod:`vdlib.theory.minibatch_noise`.

Submodules load on first use (``vdlib.deep.data``, ``vdlib.deep.chains``, ...); most import torch.
"""
from __future__ import annotations

import importlib

_SUBMODULES = ("data", "models", "train", "persample", "noise_spectrum", "chains", "runs", "svag", "entropy_sgd")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'vdlib.deep' has no attribute {name!r}")


__all__ = list(_SUBMODULES)
