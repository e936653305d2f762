"""What the experiments do with the arrays: torch tensors, 7×7 down-sampling, class subsets, CIFAR's GCN
and ZCA whitening, and random crop + flip augmentation."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ... import checks
from .registry import Dataset

# ------------------------------------------------------------------------------ helpers for experiments

NORMALISATIONS = ("unit", "standard", None)


def _torch():
    import torch

    return torch


def to_tensors(ds: Dataset, split: str = "train", dtype=None, normalise: str | None = "unit", device=None):
    """``(X, y)`` as in-memory torch tensors: X float ``(N, C, H, W)``, y int64 ``(N,)``.

    Parameters
    ----------
    ds : Dataset
    split : {"train", "test"}
    dtype : torch dtype, default ``torch.float32``
    normalise : {"unit", "standard", None}
        ``"unit"``: pixels / 255 in [0, 1] (torchvision's ``ToTensor``; what the authors'
        ``halfmnist`` loader feeds small-fc / tiny-fc). ``"standard"``: per-channel mean 0 and
        standard deviation 1, with the statistics of the *training* split for both splits.
        ``None``: raw 0–255 values as floats (what the ``mnist()`` loader in the public copy of
        the authors' ``loader.py`` returns for small-lenet; whether the model rescales is not
        visible there [verify]). CIFAR's GCN + ZCA is separate: :func:`gcn`, :func:`zca_fit`, :func:`zca_apply`.
    device : torch device, optional
    """
    torch = _torch()
    dtype = torch.float32 if dtype is None else dtype
    if normalise not in NORMALISATIONS:
        raise ValueError(f"normalise must be one of {NORMALISATIONS}, got {normalise!r}")
    x, y = ds.split(split)
    X = torch.from_numpy(_nchw(x))
    X = X.to(dtype=dtype)
    if normalise in ("unit", "standard"):
        X /= 255.0
    if normalise == "standard":
        mean, std = _channel_stats(ds.x_train)
        X -= torch.as_tensor(mean, dtype=dtype)[None, :, None, None]
        X /= torch.as_tensor(std, dtype=dtype)[None, :, None, None]
    Y = torch.from_numpy(np.array(y, dtype=np.int64))
    if device is not None:
        X, Y = X.to(device), Y.to(device)
    return X, Y


def _nchw(x: np.ndarray) -> np.ndarray:
    """uint8 (N,H,W) or (N,H,W,C) → a writable contiguous uint8 (N,C,H,W) copy."""
    if x.ndim == 3:
        return np.array(x[:, None])
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    raise ValueError(f"images must be (N,H,W) or (N,H,W,C), got shape {x.shape}")


def _channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of uint8 images on the 0–1 scale (over N, H, W)."""
    xc = x[..., None] if x.ndim == 3 else x
    C = xc.shape[-1]
    flat = xc.reshape(-1, C)
    counts = np.stack([np.bincount(flat[:, c], minlength=256) for c in range(C)])  # exact, no float sum
    v = np.arange(256) / 255.0
    n = counts.sum(axis=1)
    mean = counts @ v / n
    var = counts @ v**2 / n - mean**2
    return mean, np.sqrt(np.maximum(var, 0.0))


def _resample_matrix(n_in: int, n_out: int, method: str) -> np.ndarray:
    """The n_out × n_in matrix that maps a 1-D signal to its resampled version (rows sum to 1)."""
    W = np.zeros((n_out, n_in))
    scale = n_in / n_out
    if method == "area":
        # output pixel i covers [i*scale, (i+1)*scale) in input pixels; weight = overlap length
        edges = np.arange(n_out + 1) * scale
        for i in range(n_out):
            lo, hi = edges[i], edges[i + 1]
            for j in range(int(math.floor(lo)), min(int(math.ceil(hi)), n_in)):
                W[i, j] = min(hi, j + 1) - max(lo, j)
    elif method == "bilinear":
        # Pillow's antialiased BILINEAR resize (ImagingResample precompute_coeffs): a triangle filter
        # stretched by the scale when shrinking.
        filterscale = max(scale, 1.0)
        support = 1.0 * filterscale
        for i in range(n_out):
            center = (i + 0.5) * scale
            xmin = max(int(center - support + 0.5), 0)
            xmax = min(int(center + support + 0.5), n_in)
            for j in range(xmin, xmax):
                t = abs((j - center + 0.5) / filterscale)
                W[i, j] = max(0.0, 1.0 - t)
    else:
        raise ValueError(f"method must be 'area' or 'bilinear', got {method!r}")
    return W / W.sum(axis=1, keepdims=True)


def downsample(x, size: int = 7, method: str = "area"):
    """Shrink images to ``size × size`` (the 7×7 = 49 inputs of small-fc and tiny-fc).

    The last two axes are the image's height and width: pass ``(N, H, W)`` or ``(N, C, H, W)``
    (numpy array or torch tensor); for CIFAR's ``(N, H, W, 3)`` arrays use :func:`to_tensors` first.
    Returns float32 values on the input's scale (uint8 input: 0–255, not rounded).

    ``method="area"`` (default) averages each output pixel over the input area it covers: for
    28 → 7 that is the plain mean of 4×4 blocks; for sizes that do not divide, border pixels are
    weighted by their overlap. It preserves the mean brightness exactly.

    ``method="bilinear"`` reproduces Pillow's ``Image.resize(..., BILINEAR)``, which is what the
    authors' code ran: ``halfmnist(opt, sz=7, nc=2)`` (in a public copy of the authors' ``loader.py``)
    converts each image with ``T.ToPILImage()`` and shrinks it with ``T.Scale(7)``, whose default is
    bilinear. When shrinking, Pillow stretches the triangle filter, so each 7×7 pixel is a weighted
    mean over a 6×6 input window (weights 0.125 … 0.875 per axis for 28 → 7), smoother than area
    averaging. Caveat [verify]: that loader passes 0–255 *float* tensors to ``ToPILImage``, which in
    the torchvision of 2017 multiplied by 255 before casting to bytes, so the authors' 7×7 inputs may
    have been distorted by the overflow; this cannot be settled from the code alone.
    """
    size = checks.integer(size, "size", minimum=1)
    is_torch = type(x).__module__.startswith("torch")
    if x.ndim < 2:
        raise ValueError(f"downsample needs images whose last two axes are H and W, got shape {tuple(x.shape)}")
    H, W = x.shape[-2], x.shape[-1]
    if size > min(H, W):
        raise ValueError(f"size={size} is larger than the images ({H}×{W}); downsample only shrinks")
    Ah = _resample_matrix(H, size, method).astype(np.float32)
    Aw = _resample_matrix(W, size, method).astype(np.float32)
    if is_torch:
        torch = _torch()
        xf = x.to(torch.float32)
        Ah_t = torch.from_numpy(Ah).to(xf.device)
        Aw_t = torch.from_numpy(Aw).to(xf.device)
        return Ah_t @ xf @ Aw_t.T
    xf = np.asarray(x, dtype=np.float32)
    return np.matmul(np.matmul(Ah, xf), Aw.T)


def class_subset(x, y, classes: Sequence[int], per_class: int | None = None, seed: int = 0,
                 relabel: bool = True):
    """Keep the examples whose label is in ``classes`` (tiny-fc's 4- or 5-class problems).

    Parameters
    ----------
    x, y : arrays or tensors with the same first dimension
    classes : sequence of distinct labels to keep, e.g. ``(0, 1, 2, 3)``
    per_class : int, optional
        Keep this many examples of each class, drawn without replacement with ``seed``
        (the authors' Fig. 3 run used 4 classes × 512 images). Default: all of them.
    seed : int
    relabel : bool
        Map ``classes[k]`` to label ``k`` (default), so a 4-class net has outputs 0..3.

    Returns
    -------
    (x_sub, y_sub)
        Same types as the input, examples in their original order; y_sub is int64.
    """
    y_np = y.detach().cpu().numpy() if hasattr(y, "detach") else np.asarray(y)
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be a non-empty list of distinct labels, got {classes}")
    present = set(np.unique(y_np).tolist())
    absent = [c for c in classes if c not in present]
    if absent:
        raise ValueError(f"classes {absent} do not occur in y (labels present: {sorted(present)})")
    rng = np.random.default_rng(seed)
    keep = []
    for c in classes:
        idx = np.flatnonzero(y_np == c)
        if per_class is not None:
            k = checks.integer(per_class, "per_class", minimum=1)
            if k > len(idx):
                raise ValueError(f"per_class={k} but class {c} has only {len(idx)} examples; lower per_class")
            idx = rng.choice(idx, size=k, replace=False)
        keep.append(idx)
    keep = np.sort(np.concatenate(keep))
    y_new = y_np[keep].astype(np.int64)
    if relabel:
        lut = np.full(int(max(max(classes), y_np.max())) + 1, -1, dtype=np.int64)
        lut[classes] = np.arange(len(classes))
        y_new = lut[y_new]
    if hasattr(x, "detach"):
        torch = _torch()
        keep_t = torch.from_numpy(keep).to(x.device)
        return x[keep_t], torch.from_numpy(y_new).to(x.device)
    return np.asarray(x)[keep], y_new


def gcn(x, scale: float = 55.0, sqrt_bias: float = 0.0, use_std: bool = False, min_divisor: float = 1e-8,
        dtype=np.float32) -> np.ndarray:
    """Global contrast normalisation of each image (pylearn2's ``global_contrast_normalize``).

    Per example (all axes but the first flattened): subtract its mean, then divide by
    ``sqrt(sqrt_bias + sum of squares) / scale`` (or ``sqrt(sqrt_bias + variance) / scale`` with
    ``use_std=True``); divisors below ``min_divisor`` are replaced by 1 (blank images stay 0).
    The defaults (``scale=55``, norm not std) are the usual CIFAR-10 GCN before ZCA (Goodfellow
    et al.'s maxout CIFAR pipeline, used by All-CNN). The authors' ``*-proc.npz`` script is not
    public, so their exact constants are unknown [verify].

    Returns a float array (``dtype``, default float32) of the input's shape.
    """
    scale = checks.positive(scale, "scale")
    arr = np.asarray(x)
    flat = arr.reshape(len(arr), -1).astype(dtype, copy=True)
    flat -= flat.mean(axis=1, keepdims=True, dtype=np.float64).astype(dtype)
    if use_std:
        norms = np.sqrt(sqrt_bias + flat.var(axis=1, dtype=np.float64)) / scale
    else:
        norms = np.sqrt(sqrt_bias + np.einsum("ij,ij->i", flat, flat, dtype=np.float64)) / scale
    norms[norms < min_divisor] = 1.0
    flat /= norms.astype(dtype)[:, None]
    return flat.reshape(arr.shape)


@dataclass(frozen=True, eq=False)
class ZCA:
    """A fitted ZCA whitening: ``x ↦ (x − mean) W`` with the symmetric ``W = V diag((λ + eps)^{-1/2}) Vᵀ``.

    ``eigenvalues`` (ascending) and ``eps`` are kept so the book can show what ``eps`` does.
    """

    mean: np.ndarray = field(repr=False)
    matrix: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    eps: float = 0.1


def zca_fit(x, eps: float = 0.1, chunk: int = 4096) -> ZCA:
    """Fit ZCA whitening on training images ``x`` (``(N, ...)``, flattened per example).

    The covariance ``C = (1/N) Σ (x_k − mean)(x_k − mean)ᵀ`` is accumulated in float64 in chunks;
    ``W = V diag(1/sqrt(λ + eps)) Vᵀ`` from ``eigh(C)``. ``eps`` regularises the small eigenvalues
    (pylearn2's ``ZCA(filter_bias=0.1)``, the classical CIFAR choice after GCN with scale 55; the
    authors' value is unknown [verify]). Fit on the training split and apply the same ZCA to both
    splits (:func:`zca_apply`).

    With fewer examples than dimensions (N < D, e.g. a few hundred CIFAR images of 3,072 values) and
    ``eps > 0``, the same ``W`` comes from the N×N Gram matrix instead of the D×D ``eigh``: C has at
    most N non-zero eigenvalues, with eigenvectors ``X_cᵀu/√(Nλ)``, and λ = 0 on the rest of the space.
    """
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    arr = np.asarray(x)
    flat = arr.reshape(len(arr), -1)
    N, D = flat.shape
    if N < 2:
        raise ValueError(f"zca_fit needs at least 2 examples, got {N}")
    mean = flat.mean(axis=0, dtype=np.float64)
    if N < D and eps > 0:
        Xc = flat.astype(np.float64) - mean
        mu, U = np.linalg.eigh(Xc @ Xc.T / N)          # the non-zero eigenvalues of C, ascending
        keep = mu > max(float(mu[-1]), 0.0) * 1e-12     # drop the (numerically) zero ones: λ = 0 there
        mu, U = mu[keep], U[:, keep]
        V = Xc.T @ (U / np.sqrt(N * mu))                # D × r, orthonormal eigenvectors of C
        # W = V diag((λ + eps)^-1/2) Vᵀ + eps^-1/2 (I − V Vᵀ)
        W = (V * (1.0 / np.sqrt(mu + eps) - 1.0 / math.sqrt(eps))) @ V.T
        W[np.diag_indices(D)] += 1.0 / math.sqrt(eps)
        lam = np.concatenate([np.zeros(D - len(mu)), mu])
        return ZCA(mean=mean, matrix=W, eigenvalues=lam, eps=eps)
    C = np.zeros((D, D))
    for s in range(0, N, chunk):
        c = flat[s:s + chunk].astype(np.float64) - mean
        C += c.T @ c
    C /= N
    lam, V = np.linalg.eigh(C)
    lam = np.maximum(lam, 0.0)
    if eps == 0 and lam.min() <= 0:
        raise ValueError("the covariance is singular (more dimensions than independent examples, or constant "
                         "pixels): use eps > 0, e.g. eps=0.1")
    W = (V / np.sqrt(lam + eps)) @ V.T
    return ZCA(mean=mean, matrix=W, eigenvalues=lam, eps=eps)


def zca_apply(x, zca: ZCA, dtype=np.float32, chunk: int = 4096) -> np.ndarray:
    """Whiten ``x`` with a fitted :class:`ZCA`; returns ``dtype`` values of the input's shape."""
    arr = np.asarray(x)
    flat = arr.reshape(len(arr), -1)
    if flat.shape[1] != len(zca.mean):
        raise ValueError(f"this ZCA was fitted on {len(zca.mean)}-dimensional examples, got {flat.shape[1]}")
    out = np.empty(flat.shape, dtype=dtype)
    W = zca.matrix
    for s in range(0, len(flat), chunk):
        out[s:s + chunk] = (flat[s:s + chunk].astype(np.float64) - zca.mean) @ W
    return out.reshape(arr.shape)


PAD_MODES = ("symmetric", "zeros")


def _pad_index(n: int, pad: int) -> np.ndarray:
    """Source index of each padded position for symmetric (edge-repeating) reflection."""
    i = np.arange(-pad, n + pad)
    period = 2 * n
    i = np.mod(i, period)
    return np.where(i < n, i, period - 1 - i)


def augment(x, seed, pad: int = 4, flip: bool = True, pad_mode: str = "symmetric"):
    """Random crop with padding plus random horizontal flip, vectorised over a batch ``(N, C, H, W)``.

    Each image is padded by ``pad`` pixels on every side, an ``H × W`` window is cut at a uniformly
    random offset in ``0 .. 2·pad`` (both axes), and with ``flip=True`` it is mirrored left–right
    with probability 1/2. This is the augmentation the authors applied to each sample while
    computing D for Fig. 2c (their ``cifar_helper``: flip, ``cv.Pad(4, 2)``, ``RandomCrop(32)``).
    ``pad_mode="symmetric"`` repeats the edge pixel (OpenCV ``BORDER_REFLECT``, border code 2, as in
    that code; numpy's ``"symmetric"``); ``"zeros"`` pads with 0 (torchvision's default).

    ``seed`` is an int or a ``torch.Generator``; the same seed gives the same crops and flips.
    Returns a new tensor; ``x`` is not modified.
    """
    torch = _torch()
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError("augment needs a torch tensor of shape (N, C, H, W); convert with vdlib.deep.data.to_tensors")
    pad = checks.integer(pad, "pad", minimum=0)
    if pad_mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    if isinstance(seed, torch.Generator):
        gen = seed
    else:
        gen = torch.Generator().manual_seed(checks.integer(seed, "seed", minimum=0))
    N, C, H, W = x.shape
    oy = torch.randint(0, 2 * pad + 1, (N,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (N,), generator=gen)
    flips = torch.rand(N, generator=gen) < 0.5 if flip else torch.zeros(N, dtype=torch.bool)
    rows = oy[:, None] + torch.arange(H)                          # (N, H) positions in the padded image
    cols = ox[:, None] + torch.arange(W)                          # (N, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    if pad_mode == "symmetric":  # map padded positions back to source pixels: no padded copy is made
        src = x
        rows = torch.from_numpy(_pad_index(H, pad))[rows]
        cols = torch.from_numpy(_pad_index(W, pad))[cols]
    else:
        src = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows, cols = rows.to(x.device), cols.to(x.device)
    # two gathers (rows, then columns) on contiguous memory: faster than one 3-index advanced indexing
    out = src.gather(2, rows[:, None, :, None].expand(N, C, H, src.shape[3]))
    return out.gather(3, cols[:, None, None, :].expand(N, C, H, W))
