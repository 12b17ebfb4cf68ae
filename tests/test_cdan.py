import pytest
import torch
from helpers import LinearSigmoid, SigmoidOfSum, rand
from reference_math import (
    cdan_loss,
    cdan_weights,
    cross_entropy,
    multilinear_map,
    randomized_multilinear_map,
    softmax,
)

from dabench.adaptation.cdan import (
    ConditionalDomainAdversarialLoss,
    MultiLinearMap,
    RandomizedMultiLinearMap,
)
from dabench.modules.domain_discriminator import DomainDiscriminator


def spec_inputs():
    return (
        torch.tensor([[2.0, 0.0]]),
        torch.tensor([[1.0, -1.0, 0.5]]),
        torch.tensor([[0.0, 0.0]]),
        torch.tensor([[0.3, 0.3, 0.3]]),
    )


def test_spec_vectors():
    plain = ConditionalDomainAdversarialLoss(SigmoidOfSum())
    conditioned = ConditionalDomainAdversarialLoss(SigmoidOfSum(), entropy_conditioning=True)
    assert plain(*spec_inputs()).item() == pytest.approx(0.8576154, abs=1e-6)
    assert conditioned(*spec_inputs()).item() == pytest.approx(0.8343233, abs=1e-6)


def test_multilinear_map_spec_and_random():
    out = MultiLinearMap()(torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([[10.0, 100.0]]))
    assert out.tolist() == [[10.0, 20.0, 30.0, 100.0, 200.0, 300.0]]
    f, g = rand(4, 5), rand(4, 3, seed=1)
    torch.testing.assert_close(
        MultiLinearMap()(f, g), torch.from_numpy(multilinear_map(f.numpy(), g.numpy()))
    )


def test_randomized_map_values_and_seeded_matrices():
    torch.manual_seed(7)
    m = RandomizedMultiLinearMap(5, 3, output_dim=16)
    torch.manual_seed(7)
    assert torch.equal(m.Rf, torch.randn(5, 16)) and torch.equal(m.Rg, torch.randn(3, 16))
    m = m.double()
    f, g = rand(4, 5), rand(4, 3, seed=1)
    expected = randomized_multilinear_map(f.numpy(), g.numpy(), m.Rf.numpy(), m.Rg.numpy())
    torch.testing.assert_close(m(f, g), torch.from_numpy(expected))


def test_randomized_map_matrices_are_saved_and_restored():
    torch.manual_seed(0)
    a = RandomizedMultiLinearMap(5, 3, output_dim=16)
    torch.manual_seed(1)
    b = RandomizedMultiLinearMap(5, 3, output_dim=16)
    assert not torch.equal(a.Rf, b.Rf)
    b.load_state_dict(a.state_dict())
    f, g = torch.randn(2, 5), torch.randn(2, 3)
    assert torch.equal(a(f, g), b(f, g))
    assert a.double().Rf.dtype == torch.float64  # buffers follow .to()/.double()


@pytest.mark.parametrize("entropy_conditioning", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("randomized", [False, True])
def test_random_inputs_match_reference(entropy_conditioning, reduction, randomized):
    n_s, n_t, feat, classes, rdim = 6, 9, 5, 3, 11
    D = LinearSigmoid(rdim if randomized else feat * classes, seed=5)
    torch.manual_seed(0)
    loss = ConditionalDomainAdversarialLoss(
        D, entropy_conditioning, randomized, classes, feat, rdim, reduction
    ).double()
    g_s, f_s = rand(n_s, classes, seed=1) * 3, rand(n_s, feat, seed=2)
    g_t, f_t = rand(n_t, classes, seed=3) * 3, rand(n_t, feat, seed=4)
    f = torch.cat([f_s, f_t]).numpy()
    g_logits = torch.cat([g_s, g_t]).numpy()
    g = softmax(g_logits)
    if randomized:
        h = randomized_multilinear_map(f, g, loss.map.Rf.numpy(), loss.map.Rg.numpy())
    else:
        h = multilinear_map(f, g)
    expected = cdan_loss(D.numpy(h), n_s, g_logits, entropy_conditioning, reduction)
    got = loss(g_s, f_s, g_t, f_t)
    assert got.shape == (() if reduction != "none" else (n_s + n_t, 1))
    torch.testing.assert_close(got, torch.as_tensor(expected), rtol=1e-10, atol=1e-12)


def test_entropy_weights_average_to_one():
    w = cdan_weights(rand(10, 4).numpy())
    assert w.mean() == pytest.approx(1.0)


@pytest.mark.parametrize("entropy_conditioning", [False, True])
def test_two_logit_discriminator(entropy_conditioning):
    D = LinearSigmoid(6, seed=2, logits=2)
    loss = ConditionalDomainAdversarialLoss(D, entropy_conditioning, sigmoid=False)
    g_s, f_s, g_t, f_t = rand(3, 2), rand(3, 3, seed=1), rand(4, 2, seed=2), rand(4, 3, seed=3)
    g_logits = torch.cat([g_s, g_t]).numpy()
    h = multilinear_map(torch.cat([f_s, f_t]).numpy(), softmax(g_logits))
    per_sample = cross_entropy(D.numpy(h), [1] * 3 + [0] * 4)
    if entropy_conditioning:
        per_sample = per_sample * cdan_weights(g_logits)
    torch.testing.assert_close(loss(g_s, f_s, g_t, f_t), torch.as_tensor(per_sample.mean()))


def test_predictions_get_no_gradient_and_features_are_reversed():
    torch.manual_seed(0)
    D = DomainDiscriminator(3 * 2, 8).double().eval()
    loss = ConditionalDomainAdversarialLoss(D, entropy_conditioning=True)
    loss.grl.iter_num.fill_(2000)
    g_s, f_s = rand(4, 2).requires_grad_(), rand(4, 3, seed=1).requires_grad_()
    g_t, f_t = rand(4, 2, seed=2).requires_grad_(), rand(4, 3, seed=3).requires_grad_()
    loss(g_s, f_s, g_t, f_t).backward()
    assert g_s.grad is None and g_t.grad is None
    reversed_grad = f_s.grad.clone()

    plain = ConditionalDomainAdversarialLoss(D, entropy_conditioning=True, grl=torch.nn.Identity())
    f_s.grad = None
    plain(g_s, f_s, g_t, f_t).backward()
    torch.testing.assert_close(reversed_grad, -0.7615941559557649 * f_s.grad)


def test_discriminator_accuracy_over_joint_batch():
    loss = ConditionalDomainAdversarialLoss(SigmoidOfSum())
    loss(*spec_inputs())
    # rows of h sum to sum(g) * sum(f): 0.5 for the source, 0.9 for the target: both called source
    assert loss.domain_discriminator_accuracy.item() == pytest.approx(50.0)


def test_randomized_requires_sizes():
    with pytest.raises(
        ValueError, match=r"num_classes, features_dim and randomized_dim.*'num_classes': -1"
    ):
        ConditionalDomainAdversarialLoss(SigmoidOfSum(), randomized=True, features_dim=4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (torch.randn(4, 2), torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)),
            "g_s and g_t",
        ),
        (
            (torch.randn(4, 2), torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 5)),
            "f_s and f_t",
        ),
        (
            (torch.randn(4, 2), torch.randn(5, 3), torch.randn(4, 2), torch.randn(4, 3)),
            "g_s and f_s",
        ),
        (
            (torch.randn(4), torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 3)),
            "g_s must be 2-D",
        ),
    ],
)
def test_bad_shapes_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        ConditionalDomainAdversarialLoss(SigmoidOfSum())(*args)


def test_randomized_map_checks_widths():
    m = RandomizedMultiLinearMap(5, 3, output_dim=8)
    with pytest.raises(ValueError, match=r"g must have shape \(N, 3\) \(3 classes\)"):
        m(torch.randn(2, 5), torch.randn(2, 4))


def test_state_dict_holds_map_and_schedule():
    loss = ConditionalDomainAdversarialLoss(
        DomainDiscriminator(16, 8),
        randomized=True,
        num_classes=3,
        features_dim=5,
        randomized_dim=16,
    )
    loss(torch.randn(4, 3), torch.randn(4, 5), torch.randn(4, 3), torch.randn(4, 5))
    state = loss.state_dict()
    assert {"map.Rf", "map.Rg", "grl.iter_num"} <= set(state)
    assert int(state["grl.iter_num"]) == 1
