"""Tests of the per-sample-gradient engine (vdlib.deep.persample); the spectrum of D built on it is in
test_noise_spectrum.py.

Oracles: ``engine="vmap"`` (torch.func.vmap over single examples, no own rule), and, independently,
the batch gradient of autograd (the row mean of G must equal it).

Float32 tolerance for the engine: both routes compute the same float32 products in different
orders, so entries agree to a few ulps of the largest entry: we use
``|own − vmap| ≤ 1e-5 · max|G| + 1e-4 · |vmap|``.
"""
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from vdlib.deep import persample
from vdlib.deep.persample import engine_plan, parameter_layout, per_sample_gradients

CE = nn.CrossEntropyLoss(reduction="none")


def assert_engine_matches(G, ref):
    scale = ref.abs().max().item()
    assert scale > 0
    torch.testing.assert_close(G, ref, rtol=1e-4, atol=1e-5 * scale)


def data(n=24, shape=(1, 12, 12), classes=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=g), torch.randint(0, classes, (n,), generator=g)


def randomise_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            with torch.no_grad():
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model


# ------------------------------------------------------------------ own engine vs the vmap oracle

def test_mlp_matches_vmap_and_batch_gradient():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 32), nn.ReLU(inplace=True), nn.Linear(32, 16), nn.Tanh(),
                          nn.Linear(16, 5))
    X, y = data()
    G = per_sample_gradients(model, CE, X, y, engine="own", chunk_size=7)
    assert_engine_matches(G, per_sample_gradients(model, CE, X, y, engine="vmap"))
    # independent oracle: the mean of the rows is the batch gradient of the mean loss
    model.zero_grad()
    CE(model(X), y).mean().backward()
    batch = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    torch.testing.assert_close(G.mean(0), batch, rtol=1e-4, atol=1e-6)
    # and the columns follow model.parameters()
    layout = parameter_layout(model)
    assert [b.name for b in layout] == [n for n, _ in model.named_parameters()]
    assert layout[-1].stop == G.shape[1] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("stride,padding,bias", [(1, 0, True), (2, 1, False), (1, "same", True), (2, 2, True)])
def test_conv2d_matches_vmap(stride, padding, bias):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=stride, padding=padding, bias=bias), nn.ReLU(),
                          nn.Conv2d(4, 6, 3, padding=1, bias=not bias), nn.MaxPool2d(2), nn.Flatten(), nn.LazyLinear(5))
    X, y = data()
    model(X[:1])  # materialise the lazy layer
    assert set(engine_plan(model).values()) == {"own:conv2d", "own:linear"}
    G = per_sample_gradients(model, CE, X, y, engine="own", chunk_size=10)
    assert_engine_matches(G, per_sample_gradients(model, CE, X, y, engine="vmap"))


def test_conv2d_groups_dilation_and_padding_modes_match_vmap():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect"), nn.ReLU(),
                          nn.Conv2d(4, 6, 3, groups=2, dilation=2, padding=2), nn.ReLU(),
                          nn.Conv2d(6, 6, 3, padding="same", groups=3, padding_mode="circular"),
                          nn.Flatten(), nn.LazyLinear(5))
    X, y = data(shape=(2, 10, 10))
    model(X[:1])
    G = per_sample_gradients(model, CE, X, y, engine="own")
    assert_engine_matches(G, per_sample_gradients(model, CE, X, y, engine="vmap"))


def test_batchnorm_eval_matches_vmap_and_training_flags_are_restored():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 10 * 10, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 5))
    randomise_bn(model)
    model.train()
    X, y = data()
    routes = engine_plan(model)
    assert routes["1.weight"] == routes["5.bias"] == "own:batchnorm"
    before = {n: b.clone() for n, b in model.named_buffers()}
    G = per_sample_gradients(model, CE, X, y, engine="own")
    assert model.training and all(m.training for m in model.modules())
    assert all(p.requires_grad for p in model.parameters())
    for n, b in model.named_buffers():  # eval mode: running statistics untouched
        torch.testing.assert_close(b, before[n], rtol=0, atol=0)
    ref = per_sample_gradients(model, CE, X, y, engine="vmap")
    assert_engine_matches(G, ref)
    # the BN weight gradient is not trivially zero, so the rule is really exercised
    blk = next(b for b in parameter_layout(model) if b.name == "1.weight")
    assert ref[:, blk.start:blk.stop].abs().max() > 1e-3


class Scale(nn.Module):
    """A module with its own parameter and no own rule: must go through the fallback."""

    def __init__(self, n):
        super().__init__()
        self.gain = nn.Parameter(torch.linspace(0.5, 1.5, n))

    def forward(self, x):
        return x * self.gain


def test_fallback_module_is_used_and_warned_once():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 16), Scale(16), nn.ReLU(), nn.LayerNorm(16), nn.Linear(16, 5))
    X, y = data()
    routes = engine_plan(model)
    assert routes["2.gain"] == routes["4.weight"] == "vmap" and routes["1.weight"] == "own:linear"
    persample._WARNED_TYPES.discard("Scale")
    persample._WARNED_TYPES.discard("LayerNorm")
    with pytest.warns(UserWarning) as record:
        G = per_sample_gradients(model, CE, X, y, chunk_size=9)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2, messages  # one warning per module type without an own rule
    assert "LayerNorm parameters use the torch.func" in messages[0]
    assert "Scale parameters use the torch.func" in messages[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # second call: no warning for the same type
        G2 = per_sample_gradients(model, CE, X, y, chunk_size=9)
    torch.testing.assert_close(G, G2, rtol=0, atol=0)
    assert_engine_matches(G, per_sample_gradients(model, CE, X, y, engine="vmap"))
    with pytest.raises(ValueError, match="engine='auto'"):
        per_sample_gradients(model, CE, X, y, engine="own")


def test_shared_layer_and_chunking_and_reused_buffer():
    torch.manual_seed(5)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(144, 12)
            self.shared = nn.Linear(12, 12)
            self.out = nn.Linear(12, 5)

        def forward(self, x):
            h = torch.relu(self.inp(x.flatten(1)))
            return self.out(torch.tanh(self.shared(torch.tanh(self.shared(h)))))

    model = Twice()
    X, y = data(n=13)
    out = torch.full((13, parameter_layout(model)[-1].stop), float("nan"))
    G = per_sample_gradients(model, CE, X, y, out=out, chunk_size=4)
    assert G.data_ptr() == out.data_ptr()
    assert_engine_matches(G, per_sample_gradients(model, CE, X, y, engine="vmap"))
    torch.testing.assert_close(G, per_sample_gradients(model, CE, X, y, chunk_size=13), rtol=1e-5, atol=1e-7)


def test_chunks_iterate_all_rows():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 6), nn.ReLU(), nn.Linear(6, 5))
    X, y = data(n=11)
    G = per_sample_gradients(model, CE, X, y)
    chunks = persample.per_sample_gradient_chunks(model, CE, X, y, chunk_size=4)
    assert (chunks.n, chunks.d, len(chunks)) == (11, G.shape[1], 3)
    rows = torch.cat([c.clone() for _, c in chunks])
    torch.testing.assert_close(rows, G, rtol=0, atol=0)


# ------------------------------------------------------------------ bad inputs of the engine

def test_engine_bad_inputs_have_clear_errors():
    model = nn.Linear(3, 2)
    X, y = torch.randn(4, 3), torch.tensor([0, 1, 1, 0])
    with pytest.raises(ValueError, match="4 examples but targets has 3"):
        per_sample_gradients(model, CE, X, y[:3])
    with pytest.raises(ValueError, match="N = 0"):
        per_sample_gradients(model, CE, X[:0], y[:0])
    with pytest.raises(ValueError, match="reduction='none'"):
        per_sample_gradients(model, nn.CrossEntropyLoss(), X, y)
    with pytest.raises(ValueError, match="no parameters with requires_grad"):
        per_sample_gradients(nn.Sequential(nn.ReLU()), lambda o, t: o.sum(1), X, y)
    frozen = nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(ValueError, match="unfreeze"):
        per_sample_gradients(frozen, CE, X, y)
    with pytest.raises(ValueError, match=r"out must have shape \(4, 8\)"):
        per_sample_gradients(model, CE, X, y, out=torch.empty(4, 7))
    with pytest.raises(TypeError, match="torch.from_numpy"):
        per_sample_gradients(model, CE, X, y, out=np.empty((4, 8), np.float32))
    with pytest.raises(ValueError, match="chunk_size"):
        per_sample_gradients(model, CE, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="engine must be one of"):
        per_sample_gradients(model, CE, X, y, engine="fast")


def test_auto_chunk_size_shrinks_with_activation_size():
    small = nn.Sequential(nn.Flatten(), nn.Linear(144, 10))
    big = nn.Sequential(nn.Conv2d(1, 64, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64 * 144, 2))
    x = torch.randn(2, 1, 12, 12)
    a, b = persample.auto_chunk_size(small, x), persample.auto_chunk_size(big, x)
    assert persample.MIN_AUTO_CHUNK <= b < a <= persample.MAX_AUTO_CHUNK
