"""vdlib.files: atomic writes leave either the old file or the complete new one, never a partial one."""
import json

import numpy as np
import pytest
import torch

from vdlib import files


def test_writers_round_trip(tmp_path):
    files.write_json(tmp_path / "a" / "meta.json", {"b": 2, "a": 1})
    assert json.loads((tmp_path / "a" / "meta.json").read_text()) == {"a": 1, "b": 2}
    files.save_npz(tmp_path / "x.npz", v=np.arange(3))
    files.save_npz(tmp_path / "y.npz", compressed=False, v=np.ones(2))
    assert np.array_equal(np.load(tmp_path / "x.npz")["v"], np.arange(3))
    assert np.array_equal(np.load(tmp_path / "y.npz")["v"], np.ones(2))
    files.save_torch(tmp_path / "c.pt", {"w": torch.ones(2)})
    assert torch.equal(torch.load(tmp_path / "c.pt", weights_only=True)["w"], torch.ones(2))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "meta.json"
    files.write_json(target, {"old": True})
    with pytest.raises(TypeError):
        files.write_json(target, {"bad": object()})  # json cannot serialise it, midway through the write
    assert json.loads(target.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_sha256_and_read_summary(tmp_path):
    import hashlib
    import json

    from vdlib import files

    p = tmp_path / "a.bin"
    p.write_bytes(b"x" * 3_000_000)
    assert files.sha256(p) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    s = tmp_path / "summary.json"
    with pytest.raises(FileNotFoundError, match="create it with `make it`"):
        files.read_summary(s, "fmt/1", "make it")
    s.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON.*make it"):
        files.read_summary(s, "fmt/1", "make it")
    s.write_text(json.dumps({"format": "fmt/0"}))
    with pytest.raises(ValueError, match="'fmt/0', expected 'fmt/1'"):
        files.read_summary(s, "fmt/1", "make it")
    s.write_text(json.dumps({"format": "fmt/1", "x": 1}))
    assert files.read_summary(s, "fmt/1", "make it")["x"] == 1
