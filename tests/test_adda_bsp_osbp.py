import pytest
import torch
from helpers import rand
from reference_math import bce, bsp_loss, osbp_loss

from dabench.adaptation import adda, osbp
from dabench.adaptation.bsp import BatchSpectralPenalizationLoss, largest_singular_value_squared

# --- ADDA -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "y"), [("source", 1.0), ("target", 0.0)])
def test_adda_loss_matches_bce(label, y):
    p = torch.rand(7, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    p[0] = 0.0  # the -100 clamp
    expected = bce(p.numpy(), y).mean()
    torch.testing.assert_close(adda.DomainAdversarialLoss()(p, label), torch.as_tensor(expected))


def test_adda_rejects_unknown_domain_label():
    with pytest.raises(
        ValueError, match="domain_label must be one of 'source', 'target'; got 'src'"
    ):
        adda.DomainAdversarialLoss()(torch.rand(3, 1), "src")


# --- BSP --------------------------------------------------------------------------------------


def test_bsp_spec_vector():
    loss = BatchSpectralPenalizationLoss()(torch.tensor([[3.0, 0.0], [0.0, 4.0]]), torch.ones(2, 2))
    assert loss.item() == pytest.approx(20.0, rel=1e-6)


@pytest.mark.parametrize(
    ("n_s", "n_t", "dim"), [(32, 32, 256), (36, 20, 64), (64, 64, 16), (5, 9, 5)]
)
def test_bsp_matches_svd_on_random_inputs(n_s, n_t, dim):
    f_s, f_t = rand(n_s, dim, seed=n_s), rand(n_t, dim, seed=dim) * 3
    expected = bsp_loss(f_s.numpy(), f_t.numpy())
    got = BatchSpectralPenalizationLoss()(f_s, f_t)
    torch.testing.assert_close(got, torch.as_tensor(expected), rtol=1e-10, atol=0)


@pytest.mark.parametrize("shape", [(32, 256), (64, 16), (8, 8)])
def test_bsp_gradient_equals_svd_gradient(shape):
    f = rand(*shape, seed=3).requires_grad_()
    largest_singular_value_squared(f).backward()
    ours = f.grad.clone()
    f.grad = None
    (torch.linalg.svdvals(f)[0] ** 2).backward()
    torch.testing.assert_close(ours, f.grad, rtol=1e-8, atol=1e-10)


def test_bsp_float32_close_to_float64():
    f = rand(32, 256, seed=1)
    got = largest_singular_value_squared(f.float())
    assert got.item() == pytest.approx(float(torch.linalg.svdvals(f)[0] ** 2), rel=1e-5)


def test_bsp_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="f_s and f_t must have the same number of columns"):
        BatchSpectralPenalizationLoss()(torch.randn(4, 3), torch.randn(4, 2))


# --- OSBP -------------------------------------------------------------------------------------


def test_osbp_spec_vector():
    y = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    assert osbp.UnknownClassBinaryCrossEntropy(t=0.5)(y).item() == pytest.approx(
        0.7515047, abs=1e-6
    )


@pytest.mark.parametrize("t", [0.1, 0.5, 0.73])
def test_osbp_random_inputs_match_reference(t):
    y = rand(9, 6, seed=2) * 4
    expected = osbp_loss(y.numpy(), t)
    torch.testing.assert_close(osbp.UnknownClassBinaryCrossEntropy(t)(y), torch.as_tensor(expected))


@pytest.mark.parametrize("t", [0.0, 1.0, -0.2, 1.5])
def test_osbp_threshold_must_be_inside_unit_interval(t):
    with pytest.raises(ValueError, match=r"t must be a number in the open interval \(0, 1\)"):
        osbp.UnknownClassBinaryCrossEntropy(t)


def test_osbp_needs_an_unknown_column():
    with pytest.raises(ValueError, match="C \\+ 1 >= 2 columns"):
        osbp.UnknownClassBinaryCrossEntropy()(torch.randn(4, 1))


def test_osbp_classifier_layout_and_reversed_head_gradient():
    backbone = torch.nn.Linear(10, 12)
    backbone.out_features = 12
    model = osbp.ImageClassifier(backbone, num_classes=4, bottleneck_dim=8)
    keys = [k for k in model.state_dict() if k.startswith("bottleneck") and k.endswith("weight")]
    assert keys == [
        "bottleneck.0.weight",
        "bottleneck.1.weight",
        "bottleneck.4.weight",
        "bottleneck.5.weight",
    ]
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.bottleneck) == 2
    model.eval()  # no dropout noise: compare plain and reversed passes
    x = torch.randn(5, 10)
    grads = []
    for reverse in (False, True):
        model.zero_grad()
        y = model(x, grad_reverse=reverse)
        y.sum().backward()
        grads.append((model.head.weight.grad.clone(), model.bottleneck[0].weight.grad.clone()))
    torch.testing.assert_close(grads[1][0], grads[0][0])  # the head is on the loss side of the GRL
    torch.testing.assert_close(grads[1][1], -grads[0][1])  # the feature extractor is reversed
