import pytest
import torch
from helpers import Identity1d, LinearSigmoid, rand
from reference_math import dann_loss, dann_loss_logits, grl_lambda
from torch import nn

from dabench.adaptation.dann import DomainAdversarialLoss
from dabench.modules.domain_discriminator import DomainDiscriminator
from dabench.modules.grl import WarmStartGradientReverseLayer


def test_spec_vectors():
    loss = DomainAdversarialLoss(Identity1d())
    f_s, f_t = torch.tensor([[0.9], [0.6]]), torch.tensor([[0.2], [0.7]])
    assert loss(f_s, f_t).item() == pytest.approx(0.5108256, abs=1e-6)
    w_s, w_t = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 3.0])
    assert loss(f_s, f_t, w_s, w_t).item() == pytest.approx(1.0114458, abs=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_random_inputs_match_reference(reduction, weighted):
    D = LinearSigmoid(16, seed=3)
    loss = DomainAdversarialLoss(D, reduction=reduction)
    for seed in range(5):
        f_s, f_t = rand(12, 16, seed=seed), rand(12, 16, seed=100 + seed)
        w_s = rand(12, seed=200 + seed).abs() if weighted else None
        w_t = rand(12, 1, seed=300 + seed).abs() if weighted else None
        expected = dann_loss(
            D.numpy(f_s.numpy()),
            D.numpy(f_t.numpy()),
            None if w_s is None else w_s.numpy(),
            None if w_t is None else w_t.numpy(),
            reduction,
        )
        got = loss(f_s, f_t, w_s, w_t)
        assert got.shape == (() if reduction != "none" else (12, 1))
        torch.testing.assert_close(got, torch.as_tensor(expected), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("n_s", "n_t"), [(3, 5), (2, 3), (1, 3), (5, 4), (7, 1)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_unequal_batch_sizes_split_at_source_size(n_s, n_t, reduction):
    D = LinearSigmoid(4, seed=1)
    f_s, f_t = rand(n_s, 4, seed=1), rand(n_t, 4, seed=2)
    expected = dann_loss(D.numpy(f_s.numpy()), D.numpy(f_t.numpy()), reduction=reduction)
    got = DomainAdversarialLoss(D, reduction=reduction)(f_s, f_t)
    torch.testing.assert_close(got, torch.as_tensor(expected), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_two_logit_discriminator_matches_reference(reduction):
    D = LinearSigmoid(6, seed=4, logits=2)
    loss = DomainAdversarialLoss(D, reduction=reduction, sigmoid=False)
    f_s, f_t = rand(5, 6, seed=1), rand(3, 6, seed=2)
    w_s, w_t = rand(5, seed=3).abs(), rand(3, seed=4).abs()
    d = D.numpy(torch.cat([f_s, f_t]).numpy())
    expected = dann_loss_logits(d, 5, w_s.numpy(), w_t.numpy(), reduction)
    torch.testing.assert_close(
        loss(f_s, f_t, w_s, w_t), torch.as_tensor(expected), rtol=1e-10, atol=1e-12
    )
    assert loss.domain_discriminator_accuracy.dim() == 0


def test_weights_accept_vector_or_column():
    loss = DomainAdversarialLoss(LinearSigmoid(4))
    f_s, f_t, w = rand(6, 4), rand(6, 4, seed=1), rand(6, seed=2).abs()
    torch.testing.assert_close(loss(f_s, f_t, w, w), loss(f_s, f_t, w.view(6, 1), w.view(6, 1)))


def test_discriminator_accuracy_is_percent_tensor():
    loss = DomainAdversarialLoss(Identity1d())
    loss(torch.tensor([[0.9], [0.4]]), torch.tensor([[0.2], [0.7]]))
    # source: 1 of 2 right, target: 1 of 2 right
    assert loss.domain_discriminator_accuracy.item() == pytest.approx(50.0)


def _grads(loss_module, f_s, f_t):
    f_s, f_t = f_s.clone().requires_grad_(), f_t.clone().requires_grad_()
    loss_module.zero_grad()
    loss_module(f_s, f_t).backward()
    d_grads = [p.grad.clone() for p in loss_module.domain_discriminator.parameters()]
    return f_s.grad, f_t.grad, d_grads


@pytest.mark.parametrize("iteration", [1, 500, 1000, 5000])
def test_features_ascend_and_discriminator_descends_scaled_by_schedule(iteration):
    torch.manual_seed(0)
    D = DomainDiscriminator(8, 16).double().eval()
    grl = WarmStartGradientReverseLayer(auto_step=True)
    grl.iter_num.fill_(iteration)
    reversed_loss = DomainAdversarialLoss(D, grl=grl)
    plain_loss = DomainAdversarialLoss(D, grl=nn.Identity())
    f_s, f_t = rand(10, 8), rand(10, 8, seed=1) + 0.5

    gs, gt, gd = _grads(reversed_loss, f_s, f_t)
    ps, pt, pd = _grads(plain_loss, f_s, f_t)
    lam = grl_lambda(iteration)
    torch.testing.assert_close(gs, -lam * ps)
    torch.testing.assert_close(gt, -lam * pt)
    for a, b in zip(gd, pd, strict=True):  # the discriminator gets the ordinary BCE gradient
        torch.testing.assert_close(a, b)


def test_one_sgd_step_lowers_loss_for_discriminator_and_raises_it_for_features():
    torch.manual_seed(0)
    D = DomainDiscriminator(8, 16).double().eval()
    grl = WarmStartGradientReverseLayer(auto_step=False)
    grl.iter_num.fill_(3000)
    loss = DomainAdversarialLoss(D, grl=grl)
    f_s = rand(16, 8).requires_grad_()
    f_t = (rand(16, 8, seed=1) + 1.0).requires_grad_()
    before = loss(f_s, f_t)
    before.backward()
    with torch.no_grad():
        new_f_s, new_f_t = f_s - 0.05 * f_s.grad, f_t - 0.05 * f_t.grad
        loss_new_features = loss(new_f_s, new_f_t)
        for p in D.parameters():
            p -= 0.05 * p.grad
        loss_new_discriminator = loss(f_s, f_t)
    assert loss_new_features > before
    assert loss_new_discriminator < before


def test_first_auto_step_call_gives_features_no_gradient():
    torch.manual_seed(0)
    loss = DomainAdversarialLoss(DomainDiscriminator(4, 8).double())
    f_s, f_t = rand(6, 4).requires_grad_(), rand(6, 4, seed=1).requires_grad_()
    loss(f_s, f_t).backward()
    assert torch.count_nonzero(f_s.grad) == 0 and torch.count_nonzero(f_t.grad) == 0
    assert any(torch.count_nonzero(p.grad) > 0 for p in loss.domain_discriminator.parameters())
    assert int(loss.grl.iter_num) == 1


def test_state_dict_holds_schedule_and_discriminator():
    loss = DomainAdversarialLoss(DomainDiscriminator(4, 8))
    for _ in range(3):
        loss(torch.randn(4, 4), torch.randn(4, 4))
    state = loss.state_dict()
    assert int(state["grl.iter_num"]) == 3
    assert "domain_discriminator.0.weight" in state
    fresh = DomainAdversarialLoss(DomainDiscriminator(4, 8))
    fresh.load_state_dict(state)
    assert int(fresh.grl.iter_num) == 3


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda loss: loss(torch.randn(4), torch.randn(4, 3)),
            r"f_s must be 2-D; got shape \(4,\)",
        ),
        (lambda loss: loss(torch.randn(4, 3), torch.randn(4, 5)), "same number of columns"),
        (
            lambda loss: loss(torch.randn(4, 3), torch.randn(4, 3), torch.ones(3)),
            r"w_s must have shape \(4,\)",
        ),
        (lambda loss: loss(torch.randn(4, 3), torch.randn(2, 3), None, torch.ones(2, 2)), "w_t"),
    ],
)
def test_bad_inputs_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(DomainAdversarialLoss(DomainDiscriminator(3, 4)))


def test_unknown_reduction_is_rejected_at_construction():
    with pytest.raises(
        ValueError, match="reduction must be one of 'mean', 'sum', 'none'; got 'avg'"
    ):
        DomainAdversarialLoss(DomainDiscriminator(3, 4), reduction="avg")


def test_reduction_none_needs_equal_batches():
    loss = DomainAdversarialLoss(DomainDiscriminator(3, 4), reduction="none")
    with pytest.raises(ValueError, match="equal batch sizes"):
        loss(torch.randn(4, 3), torch.randn(3, 3))


def test_discriminator_input_width_is_checked():
    loss = DomainAdversarialLoss(DomainDiscriminator(3, 4))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        loss(torch.randn(4, 5), torch.randn(4, 5))
