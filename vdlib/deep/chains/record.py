"""What a recorded run keeps per group of chains (:class:`Record`: weights, loss, error, ‖∇f‖/√d, FDR1
scalars; memory-mapped in a folder), :func:`open_record`, and :class:`TrajectoryDiverged`."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


# --------------------------------------------------------------------------------------------------
# recording long runs, with checkpoints
# --------------------------------------------------------------------------------------------------
class TrajectoryDiverged(RuntimeError):
    """A chain's loss or weights became NaN/inf. ``.epoch``, ``.group``, ``.chains``, ``.checkpoint_epoch``."""

    def __init__(self, message, *, epoch, group, chains, checkpoint_epoch):
        super().__init__(message)
        self.epoch, self.group, self.chains, self.checkpoint_epoch = epoch, group, chains, checkpoint_epoch


_SERIES = ("loss", "error", "grad_norm", "theta_dot_grad")  # (C, T+1): at the recorded states
_STEP_SERIES = ("step_sq", "theta_dot_step_grad")  # (C, T): the first step after each recorded state


@dataclass
class Record:
    """The recorded arrays of one group of chains (numpy; memory-mapped when written to a folder).

    Attributes
    ----------
    weights : (C, T+1, d) float32
        θ after 0, 1, …, T recorded epochs; ``weights[c]`` is chain c's trajectory (rows = epochs).
    loss, error, grad_norm, theta_dot_grad : (C, T+1) float64
        Full-batch objective, training error, ‖∇f‖/√d and θ·∇f at the same states.
    step_sq, theta_dot_step_grad : (C, T) float64
        ‖Δθ‖² of the first step after state t and θ_t·g_t for the gradient g_t that step applied.
    grad : (C, T+1, d) float32 or None
        ∇f(θ_t) (with ``record_fdr=True``).
    dtheta : (C, T, d) float32 or None
        Δθ of the first step after state t (with ``record_fdr=True``).
    settings : dict
        The engine's settings (lr, momentum, ... per chain).
    epochs_done : int
        Rows ``0 .. epochs_done`` hold data.
    start_epoch : int
        Where the call that produced this record started (0, or the checkpoint it resumed from).
    """

    weights: np.ndarray
    loss: np.ndarray
    error: np.ndarray
    grad_norm: np.ndarray
    theta_dot_grad: np.ndarray
    step_sq: np.ndarray
    theta_dot_step_grad: np.ndarray
    grad: np.ndarray | None = None
    dtheta: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    epochs_done: int = 0
    start_epoch: int = 0

    @property
    def n_chains(self) -> int:
        return self.weights.shape[0]

    @property
    def d(self) -> int:
        return self.weights.shape[2]

    def trajectory(self, chain: int = 0, start: int = 0) -> np.ndarray:
        """Chain ``chain``'s weights from row ``start`` to the last completed row: a T×d array."""
        return np.asarray(self.weights[chain, start:self.epochs_done + 1])

    def fdr1(self, start: int = 0):
        """Yaida's FDR1 ⟨θ·∇f⟩ = (1 + μ)/(2η)⟨‖Δθ‖²⟩ over rows ``start ..`` (pass the burn-in).

        Uses the full gradient ∇f(θ_t) and the one-step Δθ_t recorded each epoch; the error bars come
        from the independent chains (:func:`vdlib.analysis.trajectory.fdr1` with the same conventions). All chains
        must share η and μ.
        """
        from ...analysis import trajectory as tj

        lr, mom = set(self.settings["lr"]), set(self.settings["momentum"])
        if len(lr) != 1 or len(mom) != 1:
            raise ValueError("fdr1 needs chains that share lr and momentum; select them first")
        eta, mu = lr.pop(), mom.pop()
        end = self.epochs_done
        if not 0 <= start < end:
            raise ValueError(f"start={start} must be below the {end} completed epochs")
        if self.grad is not None and self.dtheta is not None:
            return tj.fdr1(self.weights[:, start:end], self.grad[:, start:end], self.dtheta[:, start:end],
                           eta=eta, momentum=mu)
        lhs = tj.chain_estimate(self.theta_dot_grad[:, start:end].mean(1))
        rhs = tj.chain_estimate((1 + mu) / (2 * eta) * self.step_sq[:, start:end].mean(1))
        return tj.FDR1(lhs=lhs.mean, lhs_se=lhs.se, rhs=rhs.mean, rhs_se=rhs.se)


def open_record(folder, epochs_done: int | None = None) -> Record:
    """Open a group folder written by :func:`run_network_chains` (arrays memory-mapped read-only)."""
    folder = Path(folder)
    meta_path = folder / "record.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no recorded chains in {folder} (record.json missing): run the experiment first")
    from ... import files

    fix = f"the group's records cannot be read: rerun the experiment into a fresh folder (this one: {folder.parent})"
    meta = files.load_json(meta_path, what="record description", fix=fix, keys=("settings", "epochs_done"))
    arrays = {}
    for k in ("weights", *_SERIES, *_STEP_SERIES, "grad", "dtheta"):
        p = folder / f"{k}.npy"
        if p.is_file():
            *_, need = files.npy_layout(p, what=f"record array ({k})", fix=fix)
            if p.stat().st_size != need:
                raise files.DamagedFile(p, f"is truncated or padded: {p.stat().st_size:,} bytes, its header "
                                        f"needs {need:,}", fix)
        arrays[k] = files.load_npy(p, what=f"record array ({k})", fix=fix, mmap_mode="r") if p.is_file() else None
    done = meta["epochs_done"] if epochs_done is None else epochs_done
    return Record(**arrays, settings=meta["settings"], epochs_done=int(done))
