"""Setting up the chain engines of a run from the pre-trained weights: one
:class:`~vdlib.deep.chains.ChainEngine` per group (the paper's setting and its controls), the matched
noise of the reversible control."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


from ... import files
from ...deep import chains as ch
from .protocol import CONTROLS, Protocol, _chain_seeds, _seed

# ---------------------------------------------------------------- pieces shared by one and several processes
def _load_pretrained(pre_path: Path, data_info: dict[str, Any]) -> dict[str, Any]:
    pre = files.load_torch(pre_path, what="pre-trained weights of a trajectory run",
                           fix="delete it and rerun (with --resume if meta.json exists): pre-training is repeated, "
                                "bit for bit")
    if abs(pre["fingerprint"] - data_info["fingerprint"]) > 1e-6 * abs(data_info["fingerprint"]):
        raise ValueError(f"{pre_path} was made from other data: use another folder")
    return json.loads(pre["json"]) | {"theta_bn": pre["theta_bn"], "theta_nobn": pre["theta_nobn"],
                                      "noise": pre["noise"]}


def _make_engines(p: Protocol, X, y, pre: dict[str, Any], noise: dict[str, Any], dev,
                  groups) -> tuple[dict[str, ch.ChainEngine], dict[str, dict[str, Any]]]:
    """The engines of ``groups`` at the start of the recorded phase, and their ``meta["controls"]`` entries."""
    engines, info = {}, {}
    for c in groups:
        bn = c != "nobn"
        lay = ch.layout(p.model, len(p.classes), batchnorm=bn)
        kw = dict(seeds=_chain_seeds(p, c), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
                  batch_size=p.batch_size, replacement=p.replacement, device=dev)
        sigma = [0.0] * p.n_chains(c)
        if c == "momentum0":
            kw["momentum"] = 0.0
        if c == "langevin":
            sigma = ch.matched_noise_std(noise[c]["trace"], lay.d).tolist()
            kw.update(full_batch=True, noise_std=sigma)
        # chain i of every group starts from pre-trained network i: the groups are paired
        engines[c] = ch.ChainEngine(X, y, pre["theta_bn" if bn else "theta_nobn"][:p.n_chains(c)], lay, **kw)
        info[c] = {"description": CONTROLS[c], "d": lay.d, "batchnorm": bn,
                   "momentum": kw["momentum"], "full_batch": c == "langevin", "noise_std": sigma,
                   "noise_trace_start": noise[c]["trace"], "noise_bias_sq_start": noise[c]["bias_sq"],
                   "full_grad_sq_start": noise[c]["full_grad_sq"], "seeds": kw["seeds"],
                   "steps_per_epoch": engines[c].steps_per_epoch}
    return engines, info


def _noise_trace_end(p: Protocol, engines: dict[str, ch.ChainEngine]) -> dict[str, list[float]]:
    return {c: eng.noise_trace(p.noise_batches, seed=_seed(p, 5, list(CONTROLS).index(c)))["trace"].tolist()
            for c, eng in engines.items()}


def _checkpoint_name(groups) -> str:
    """The checkpoint file of the process that records ``groups``."""
    return f"checkpoint-{'+'.join(groups)}.pt"
