"""vdlib.deep.models: the paper's networks, their parameter counts, shapes and input checks."""
import pytest
import torch
from torch import nn

from vdlib.deep import models


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# the paper's counts (Figs. 1-2 captions) and the independent counts of paper-notes §6.1
@pytest.mark.parametrize(
    "name, num_classes, expected",
    [
        ("small-lenet", None, 13_338),
        ("small-lenet", 10, 13_338),
        ("small-fc", None, 3_978),
        ("tiny-fc", None, 917),
        ("tiny-fc", 5, 917),
        ("tiny-fc", 4, 900),
        ("small-allcnn", None, 26_982),
        ("small-allcnn", 10, 26_982),
        ("small-allcnn", 100, 29_412),
    ],
)
def test_parameter_counts_match_the_paper(name, num_classes, expected):
    model = models.build(name, num_classes)
    d = sum(p.numel() for p in model.parameters())
    assert d == expected, f"{name} with {num_classes} classes has {d} parameters, the paper says {expected}"
    assert models.count_parameters(model) == d


def test_parameter_counts_by_hand_formula():
    """An independent oracle: the layer-by-layer arithmetic of the architecture descriptions."""
    conv = lambda cin, cout, k: cin * cout * k * k + cout  # noqa: E731
    lin = lambda n, m: n * m + m  # noqa: E731
    bn = lambda c: 2 * c  # noqa: E731
    lenet = conv(1, 8, 5) + bn(8) + conv(8, 16, 5) + bn(16) + lin(64, 128) + bn(128) + lin(128, 10)
    assert models.count_parameters(models.build("small-lenet")) == lenet
    for k in (4, 5, 7):
        assert models.count_parameters(models.build("tiny-fc", k)) == lin(49, 16) + bn(16) + lin(16, k)
    widths = [(3, 12), (12, 12), (12, 12), (12, 24), (24, 24), (24, 24), (24, 24), (24, 24)]
    for k in (10, 100, 3):
        allcnn = sum(conv(a, b, 3) + bn(b) for a, b in widths) + conv(24, k, 1) + bn(k)
        assert models.count_parameters(models.build("small-allcnn", k)) == allcnn


def test_batchnorm_buffers_are_not_parameters():
    model = models.build("small-lenet")
    buffers = sum(b.numel() for name, b in model.named_buffers() if "running" in name)
    assert buffers == 2 * (8 + 16 + 128)
    assert models.count_parameters(model) == 13_338
    frozen = models.build("small-fc")
    frozen.net[1].weight.requires_grad_(False)
    assert models.count_parameters(frozen) == 3_978 - 49 * 64
    assert models.count_parameters(frozen, trainable_only=False) == 3_978


@pytest.mark.parametrize("name", models.names())
def test_forward_shapes_and_documented_input(name):
    model = models.build(name)
    shape = models.input_shape(name)
    assert shape == model.input_shape == models.REGISTRY[name].input_shape
    out = model(torch.randn(4, *shape))
    assert out.shape == (4, model.num_classes)
    model.eval()
    assert model(torch.randn(1, *shape)).shape == (1, model.num_classes)


def test_documented_input_shapes():
    assert models.input_shape("small-lenet") == (1, 28, 28)
    assert models.input_shape("small-fc") == models.input_shape("tiny-fc") == (49,)
    assert models.input_shape("small-allcnn") == (3, 32, 32)


def test_intermediate_spatial_sizes():
    """lenet: 28 -> 24 -> pool3 8 -> 4 -> pool2 2, so 16*2*2 = 64 features; allcnn pools an 8x8 map."""
    seen = {}
    lenet = models.build("small-lenet")
    lenet.classifier[1].register_forward_hook(lambda m, i, o: seen.update(fc_in=i[0].shape))
    lenet(torch.randn(2, 1, 28, 28))
    assert seen["fc_in"] == (2, 64)
    allcnn = models.build("small-allcnn", 100)
    pool = [m for m in allcnn.modules() if isinstance(m, nn.AvgPool2d)][0]
    pool.register_forward_hook(lambda m, i, o: seen.update(pool_in=i[0].shape))
    allcnn(torch.randn(2, 3, 32, 32))
    assert seen["pool_in"] == (2, 100, 8, 8)
    # every conv of small-allcnn is followed by BN and ReLU, and the paper's dropout is 0
    layers = list(allcnn.net)
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv2d):
            assert isinstance(layers[i + 1], nn.BatchNorm2d) and isinstance(layers[i + 2], nn.ReLU)
    assert not any(isinstance(m, nn.Dropout) for m in allcnn.modules())
    drops = [m.p for m in lenet.modules() if isinstance(m, nn.Dropout)]
    assert drops == [0.1, 0.1, 0.1]


def test_fc_models_accept_7x7_images_in_any_layout():
    model = models.build("small-fc", seed=0).eval()
    x = torch.randn(5, 49)
    ref = model(x)
    assert torch.equal(model(x.view(5, 7, 7)), ref)
    assert torch.equal(model(x.view(5, 1, 7, 7)), ref)
    models.check_input(model, x.view(5, 1, 7, 7))


def test_build_with_seed_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    a = models.build("small-lenet", seed=3)
    b = models.build("small-lenet", seed=3)
    c = models.build("small-lenet", seed=4)
    assert torch.equal(torch.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["features.0.weight"], sc["features.0.weight"])


def test_functional_call_matches_the_module():
    """The later batched engine calls the models through torch.func.functional_call."""
    model = models.build("tiny-fc", 4, seed=0).eval()
    params = {k: v.detach().clone() for k, v in model.named_parameters()}
    buffers = dict(model.named_buffers())
    x = torch.randn(8, 49)
    out = torch.func.functional_call(model, (params, buffers), (x,))
    assert torch.equal(out, model(x))
    assert list(params) == ["net.1.weight", "net.1.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"]


def test_names_and_aliases():
    assert models.names() == ["small-lenet", "small-fc", "tiny-fc", "small-allcnn"]
    assert models.count_parameters(models.build("small_lenet")) == 13_338
    assert models.build("tiny-fc").model_name == "tiny-fc"


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: models.build("lenet"), "choose one of small-lenet"),
        (lambda: models.build(3), "model name must be a string"),
        (lambda: models.build("tiny-fc", 1), "num_classes must be at least 2"),
        (lambda: models.build("tiny-fc", 4.0), "num_classes must be an integer"),
        (lambda: models.build("small-lenet", dropout=1.0), "dropout must be a probability"),
        (lambda: models.build("small-lenet", seed=-1), "seed must be at least 0"),
        (lambda: models.input_shape("resnet"), "unknown model"),
    ],
)
def test_bad_arguments_say_what_to_change(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.parametrize(
    "name, shape, hint",
    [
        ("small-lenet", (3, 28, 28), r"expects \(1, 28, 28\)"),
        ("small-lenet", (28, 28), r"unsqueeze\(1\)"),
        ("small-allcnn", (32, 32, 3), r"permute\(0, 3, 1, 2\)"),
        ("small-fc", (1, 28, 28), "down-sample the images to 7×7"),
        ("tiny-fc", (50,), r"expects \(49,\)"),
    ],
)
def test_wrong_input_shape_is_a_clear_error(name, shape, hint):
    model = models.build(name)
    with pytest.raises(ValueError, match=hint):
        models.check_input(model, torch.zeros(2, *shape))


def test_check_input_skips_models_without_a_declared_shape_and_input_shape_needs_one():
    plain = nn.Linear(3, 2)
    models.check_input(plain, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="no input_shape attribute"):
        models.input_shape(plain)
