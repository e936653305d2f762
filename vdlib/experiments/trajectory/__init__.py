"""Long SGD trajectories on tiny-fc with controls (Part IV-b, Fig. 3 and Remarks 11, 15, 17–18 of the paper).

The protocol (§IV of the paper, the authors' ``code/prob_current.py`` at ``e05ed9c`` and
``code/plot_current.py``; chapter 11), with every choice in :class:`Protocol`:

1. **Data.** 4 classes × 512 training images, down-sampled to 7×7 (the authors' run at commit
   ``e05ed9c``: ``nc=4``, N = 2,048). Which set stands in for the paper's MNIST is
   :func:`vdlib.deep.data.mnist_choice`'s decision: MNIST when a local copy exists, else Fashion-MNIST
   (e.g. Debian's package), else the 10,000 MNIST digits bundled with vdlib (``"mnist-10k"``; its
   8,000-image training split has 690–902 images per class). The ``full`` profile refuses the
   bundled digits unless they are asked for by name (``--dataset mnist-10k``); ``meta.json`` records
   which data were used and from where. Pixels are
   scaled to [0, 1]; the 7×7 images use Pillow-style bilinear shrinking, as the authors' loader did
   (:func:`vdlib.deep.data.downsample`).
2. **Pre-training to zero training error.** Each chain's network is trained with SGD (momentum 0.9,
   batch 128, ``pretrain_lr``) until its full-batch training error is zero (a snapshot is taken at the
   first epoch it is, and training stops when all chains have one; a chain that never gets there keeps
   its best snapshot, and the metadata say so). Chain ``i`` of every control starts from the same
   initial weights (seed-derived), so the controls are paired; the no-BN net shares the Linear layers
   of the BN net's initialisation.
3. **The recorded phase.** ``epochs`` epochs from zero velocity, all groups in lock-step, recorded once
   per epoch (weights, full-batch loss, training error, ‖∇f‖/√d in training mode with full-batch BN
   statistics, and the FDR1 scalars; see :mod:`vdlib.deep.chains`). The first ``burn_in`` epochs are
   recorded but belong to the transient: analyses start at row ``burn_in`` (the code's ``if e > 1000``).
4. **Controls** (chapter 11), each a group of ``control_chains`` chains run beside the ``chains`` chains of the
   paper's setting ``"sgd"`` (momentum 0.9, BN, mini-batches of 128):

   * ``"momentum0"``, control (a): the same without momentum;
   * ``"langevin"``, control (b): full-batch gradient + isotropic Gaussian noise with the trace of
     SGD's mini-batch noise, σ² = tr Σ_B / d measured per chain at the start of the recorded phase from
     ``noise_batches`` mini-batch gradients (:meth:`vdlib.deep.chains.ChainEngine.noise_trace`), then
     heavy-ball with the same η and μ: a reversible (detailed-balance) reference;
   * ``"nobn"``, control (c): tiny-fc without BatchNorm (d = 868 for 4 classes), pre-trained itself.

**Learning rate (our reading).** The paper says the lr is held at 10⁻³ after burn-in; the code at
``e05ed9c`` has no schedule and defaults to 0.1. We use the code's constant 0.1 by default: it gives
‖∇f‖/√d of order 10⁻³, the range of Fig. 3c. ``lr=`` changes it.

Cost (2-core machine under load, 1 thread; ``benchmarks/bench_trajectory.py``): the ``sgd`` group of
4 chains records ~90 epochs/s (10⁵ epochs ≈ 19 min), momentum0 + nobn (1 chain each) ~70 epochs/s,
langevin (1 chain, a full-batch gradient at every step) ~72 epochs/s; all four groups in one process
~26 epochs/s (10⁵ epochs ≈ 1 h). On these tiny nets the per-step Python overhead, not the arithmetic,
sets the time, and the threads of one process (``workers``) share one interpreter; ``processes=2``
(``--processes 2``, the default of the ``full`` profile on a machine with 2 or more cores) records
the groups as Dask tasks, one per group, on a local cluster of two worker processes instead
(:mod:`vdlib.experiments.cluster`; the tasks are in ``meta.json``, ``"processes"``), with bitwise the
same records as one process. The numbers below were measured with the earlier home-made pool of two
processes (bins sgd+momentum0 | langevin+nobn), which the Dask tasks replace. Measured on the quiet 2-core machine (``--profile full``, 2 processes, split sgd+momentum0 |
langevin+nobn): 10⁵ epochs in 1,319 s of recording (76 epochs/s), 1,349 s with pre-training; the
records were bitwise those of a one-process run. See also benchmarks/bench_trajectory.py.
Pre-training to zero error takes 700–2,900 epochs with BN (~20 s for 4 chains); without BN the error
stays at 0.05–1 % after 3,000 epochs (recorded in ``meta.json``).

Artifact (``out`` folder): ``meta.json`` (protocol, seeds, versions, device, data source, noise traces,
pre-training outcome, timings, status), ``trajectory.npz`` (the small per-epoch series of every group:
``"<group>/loss"``, ``"<group>/grad_norm"``, ...), one subfolder per group with memory-mapped
``weights.npy`` (chains × (epochs+1) × d, float32) and the series, ``pretrained.pt`` and the rolling
``checkpoint.pt`` (with several processes, one ``checkpoint-<group>.pt`` per task).
``--resume`` continues a killed run with no lost or duplicated epoch (in one process or several, as it
was started; a run of several processes reuses its split).

Command line::

    python -m vdlib.experiments trajectory --profile full [--out DIR] [--resume] [--processes N]
    python -m vdlib.experiments trajectory --summarize DIR [--summary-out OUT]   # -> summary.npz + meta.json

Python::

    res = vdlib.experiments.trajectory.run(profile="ci")      # in memory, seconds
    res = vdlib.experiments.trajectory.load("artifacts/trajectory_full")   # a run of your own (2.5 GB)
    X = res.records["sgd"].trajectory(chain=0, start=res.protocol.burn_in)   # T×d, feeds vdlib.analysis.trajectory
    s = vdlib.experiments.trajectory.summarize(res)       # the chapters' statistics (a few MB), see summarize
    s = vdlib.experiments.trajectory.load_summary(vdlib.results.committed_result("summaries/trajectory_full").path)

The summary of the full-profile run the book shows is committed as package data
(``vdlib/results/summaries/trajectory_full``); :func:`vdlib.results.committed_result` finds it, or a
summary of your own in ``artifacts/summaries/trajectory_full`` (``--summarize``'s default output).

The experiment is a package of one job per module; everything above is importable from
``vdlib.experiments.trajectory``:

===============  ==================================================================================
module           what is there
===============  ==================================================================================
``protocol``     :class:`Protocol`, :func:`protocol`, :data:`CONTROLS`, :data:`DATASETS`, the seeds
``pretraining``  :func:`load_data`, :func:`pretrain`
``engines``      the chain engines of a run from the pre-trained weights
``scheduler``    recording the groups as Dask tasks in several processes (tasks, resume)
``runner``       :func:`run`, :func:`load`, :class:`TrajectoryResult`
``summary``      :func:`summarize` (the statistics: :mod:`vdlib.analysis.summaries`), :func:`load_summary`
``cli``          :func:`add_arguments`, :func:`main` (``python -m vdlib.experiments trajectory``)
===============  ==================================================================================

Used in: Part IV-b chapters (Fig. 3 and its controls).
"""
from __future__ import annotations

from ...analysis.summaries import PLANES
from .cli import add_arguments, main
from .pretraining import load_data, pretrain
from .protocol import ARTIFACT_FORMAT, CONTROLS, DATASETS, Protocol, protocol
from .runner import TrajectoryResult, load, run
from .summary import SUMMARY_FORMAT, TrajectorySummary, load_summary, summarize

__all__ = ["CONTROLS", "DATASETS", "Protocol", "protocol", "TrajectoryResult", "load_data", "pretrain", "run", "load",
           "add_arguments", "main", "ARTIFACT_FORMAT", "summarize", "load_summary", "TrajectorySummary",
           "SUMMARY_FORMAT", "PLANES"]
