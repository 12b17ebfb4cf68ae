"""Same seed, same CPU → bit-identical losses and gradients for every module."""

import pytest
import torch

from dabench.adaptation import adda, advent, bsp, cdan, dann, iwan, osbp, pada
from dabench.modules.domain_discriminator import DomainDiscriminator


def run_dann():
    loss = dann.DomainAdversarialLoss(DomainDiscriminator(16, 32))
    f_s, f_t = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16, requires_grad=True)
    loss.grl.iter_num.fill_(500)
    return loss(f_s, f_t), [f_s, f_t, *loss.parameters()]


def run_cdan():
    loss = cdan.ConditionalDomainAdversarialLoss(
        DomainDiscriminator(32, 32),
        entropy_conditioning=True,
        randomized=True,
        num_classes=4,
        features_dim=16,
        randomized_dim=32,
    )
    f_s, f_t = torch.randn(8, 16, requires_grad=True), torch.randn(8, 16, requires_grad=True)
    loss.grl.iter_num.fill_(500)
    return loss(torch.randn(8, 4), f_s, torch.randn(8, 4), f_t), [f_s, f_t, *loss.parameters()]


def run_adda():
    d = torch.rand(8, 1, requires_grad=True)
    return adda.DomainAdversarialLoss()(d, "target"), [d]


def run_bsp():
    f_s, f_t = torch.randn(32, 64, requires_grad=True), torch.randn(36, 64, requires_grad=True)
    return bsp.BatchSpectralPenalizationLoss()(f_s, f_t), [f_s, f_t]


def run_osbp():
    y = torch.randn(8, 5, requires_grad=True)
    return osbp.UnknownClassBinaryCrossEntropy(0.5)(y), [y]


def run_pada_iwan():
    D = DomainDiscriminator(16, 32, batch_norm=False)
    w_s = iwan.ImportanceWeightModule(D).get_importance_weight(torch.randn(8, 16))
    gamma = pada.ClassWeightModule(0.1)(torch.randn(20, 5))
    f_s = torch.randn(8, 16, requires_grad=True)
    loss = dann.DomainAdversarialLoss(DomainDiscriminator(16, 32, batch_norm=False))
    loss.grl.iter_num.fill_(500)
    return loss(f_s, torch.randn(8, 16), w_s * gamma.mean()), [f_s, *loss.parameters()]


def run_advent():
    loss = advent.DomainAdversarialEntropyLoss(advent.Discriminator(3, ndf=4))
    logits = torch.randn(2, 3, 32, 32, requires_grad=True)
    return loss(logits, "target"), [logits, *loss.parameters()]


@pytest.mark.parametrize(
    "run", [run_dann, run_cdan, run_adda, run_bsp, run_osbp, run_pada_iwan, run_advent]
)
def test_same_seed_same_values_and_gradients(run):
    results = []
    for _ in range(2):
        torch.manual_seed(1234)
        value, tensors = run()
        value.backward()
        results.append((value.detach(), [t.grad.clone() for t in tensors if t.grad is not None]))
    (v1, g1), (v2, g2) = results
    assert torch.equal(v1, v2)
    assert len(g1) == len(g2) > 0
    assert all(torch.equal(a, b) for a, b in zip(g1, g2, strict=True))
