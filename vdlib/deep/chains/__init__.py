"""Many independent SGD chains of tiny-fc / small-fc at once: the engine behind the long trajectories (Fig. 3).

The paper's Fig. 3 runs SGD on tiny-fc (49 → 16–BN–ReLU → K, d = 900 for K = 4) for 10⁵ epochs. The
network is so small that a textbook loop (``nn.Module`` + ``DataLoader`` + optimiser) spends nearly
all its time in Python and per-call overhead. :class:`ChainEngine` instead

* keeps the training set in memory and gathers each epoch's mini-batches with one index operation;
* stacks the weights of ``C`` independent chains in one ``(C, d)`` tensor (chain ``c`` is row ``c``,
  laid out exactly like ``torch.nn.utils.parameters_to_vector(model.parameters())`` of the module);
* runs the forward pass with batched matrix products, BatchNorm with **per-chain batch statistics**
  (training mode, biased variance, ``eps = 1e-5``, as ``nn.BatchNorm1d``), and the backward pass
  written out by hand (``backend="manual"``, the default; ``backend="autograd"`` differentiates the
  same forward pass with autograd and is used as the test oracle);
* applies PyTorch's heavy-ball update (``torch.optim.SGD``: ``g ← ∇ + λθ``, ``v ← μv + g``,
  ``θ ← θ − ηv``, with ``v = g`` at the first step) to all chains in a few fused tensor operations.

Learning rate η, momentum μ, weight decay λ and the injected noise σ may differ from chain to chain
(pass a sequence), so controls run side by side in one batched run. Every chain has its own
:class:`torch.Generator` for its mini-batches (and one for its noise), seeded from its ``seed``: a
chain's batches do not depend on which other chains run beside it.

**Mini-batches.** ``replacement=False`` (default, the paper's code): each epoch every chain draws
its own permutation of the ``N`` examples and cuts it into ``ceil(N / b)`` batches (the last one
smaller when ``b`` does not divide ``N``). ``replacement=True``: every step draws ``b`` i.i.d.
uniform indices, ``ceil(N / b)`` steps per epoch.

**Full-batch mode and the matched isotropic noise (control (b) of chapter 11, reversible).** With
``full_batch=True`` every step uses the full-batch gradient ∇f(θ) (training mode: BatchNorm with the
statistics of all ``N`` examples) and adds isotropic Gaussian noise to it,

    g_t = ∇f(θ_t) + λθ_t + σ ζ_t,   ζ_t ~ N(0, I_d),

followed by the same heavy-ball update. An epoch has the same number of steps as SGD's
(``ceil(N / b)``), so one recorded epoch is the same amount of "time" ``η × steps`` in both.
The noise is *matched in trace* to SGD's mini-batch noise: SGD's step uses g_B = ∇f + ξ_B, whose
noise covariance Σ_B = Cov(g_B) has trace tr Σ_B (≈ tr D / b with replacement,
``(1 − b/N) N/(N − 1) tr D / b`` without). Choosing

    σ² = tr Σ_B / d      gives      E‖η σ ζ‖² = η² tr Σ_B,

the same mean squared noise displacement per step as SGD's −η ξ_B, but spread evenly over all d
directions. :meth:`ChainEngine.noise_trace` measures tr Σ_B at the current weights from
``n_batches`` mini-batch gradients drawn with the run's own sampling scheme and batch size
(unbiased sample covariance of the g_B); :func:`matched_noise_std` turns it into σ. Full-batch
gradient descent with isotropic Gaussian noise is a discretised Langevin equation (underdamped with
momentum) for the potential f: its stationary law obeys detailed balance (up to O(η) discretisation
effects), so it is the reversible reference. (SGD with BN also differs in its mean drift: E g_B ≠ ∇f
because of the batch statistics; :meth:`ChainEngine.noise_trace` reports that bias too.)

**Recording** (:func:`run_network_chains`): once per epoch, for every chain, the weights θ_t (float32), the
full-batch objective f(θ_t) = CE + λ/2‖θ‖², its gradient norm ‖∇f(θ_t)‖/√d, the training error, and
for Yaida's FDR1 the scalars θ_t·∇f(θ_t) and ‖Δθ_t‖² of the first step of the next epoch
(optionally the vectors ∇f(θ_t) and Δθ_t). Row 0 is the state before the first recorded epoch, so
``T`` epochs give ``T + 1`` rows. With a ``folder`` the arrays are memory-mapped ``.npy`` files and
the run checkpoints atomically (temporary file + :func:`os.replace`, read back with
``torch.load(weights_only=True)``, generator states included); ``resume=True`` continues a killed run
with no lost or duplicated epoch. The outputs feed :mod:`vdlib.analysis.trajectory` directly:
``Record.weights[c]`` is the T×d array of chain ``c``; :meth:`Record.fdr1` builds Yaida's check.

A chain whose loss or weights become NaN/inf stops the run with :class:`TrajectoryDiverged`; the last
checkpoint on disk is left as it was.

**Speed** (``benchmarks/bench_trajectory.py``, tiny-fc, N = 2,048, b = 128, 1 torch thread, measured
side by side on the project's 2-core machine while it was busy, load ≈ 4.5). Against the textbook loop
(``nn.Module`` + ``DataLoader`` + ``torch.optim.SGD``, 867 steps/s): one chain 3,700 steps/s (4.3×);
4 chains 10,300 chain-steps/s (12×); 16 chains 17,400 (20×); 64 chains 35,000 (40×). The autograd
backend reaches 1.4× / 16× (C = 1 / 16), ``torch.func.vmap`` 5.3× (C = 16). Activations are laid out
(chain, unit, example), so BatchNorm is one ``native_batch_norm`` call on a (1, C·hidden, n) view and
the full-batch first layer is one matrix product; ``argmax``/``index_select``/``softmax`` over a last
axis of 4 are avoided because they are 10–100× slower than the alternatives used here on the CPU.
Recorded runs (:func:`run_network_chains`, incl. the per-epoch full-batch gradient): 4 chains of the paper's
setting 90 epochs/s (10⁵ epochs ≈ 19 min); one chain of full-batch + noise 72 epochs/s (each of its
16 steps is a full-batch gradient). A group costs ~7 ms per epoch almost regardless of its chain
count, so many chains per group are nearly free.

The package has one module per job; everything public is importable from ``vdlib.deep.chains``:

============  =====================================================================================
module        what is there
============  =====================================================================================
``network``   :class:`Layout`, :func:`layout`, :func:`fc_module` (the ``nn.Module``, from
              :mod:`vdlib.deep.models`), :func:`module_vector`, :func:`load_vector`, :func:`init_weights`
``batched``   :func:`forward_backward`: the forward and backward pass of C chains at once
``engine``    :class:`ChainEngine`, :func:`matched_noise_std`
``record``    :class:`Record`, :func:`open_record`, :class:`TrajectoryDiverged`
``run``       :func:`run_network_chains`: recorded runs with checkpoints and resume
``directions``  :func:`top_directions`: the top eigenvectors of SGD's noise covariance or of the
              Hessian at given weights (the planes the trajectories are projected on)
============  =====================================================================================

(:func:`vdlib.theory.sgd.run_sgd_chains` runs least-squares SGD chains; :mod:`vdlib.deep.runs` the short
in-memory loops of chapters 11 and 12.)

Used in: Part IV-b (long SGD trajectories on tiny-fc); ``python -m vdlib.experiments trajectory``.
"""
from __future__ import annotations

from .batched import BN_EPS, forward_backward
from .directions import top_directions
from .engine import ChainEngine, matched_noise_std
from .network import Layout, fc_module, init_weights, layout, load_vector, module_vector
from .record import Record, TrajectoryDiverged, open_record
from .run import CHECKPOINT_FILE, CHECKPOINT_FORMAT, MAX_LOSS, MAX_WEIGHT_NORM, run_network_chains

__all__ = [
    "Layout",
    "layout",
    "fc_module",
    "module_vector",
    "load_vector",
    "init_weights",
    "forward_backward",
    "BN_EPS",
    "ChainEngine",
    "matched_noise_std",
    "Record",
    "TrajectoryDiverged",
    "run_network_chains",
    "open_record",
    "top_directions",
    "CHECKPOINT_FILE",
    "CHECKPOINT_FORMAT",
    "MAX_WEIGHT_NORM",
    "MAX_LOSS",
]
