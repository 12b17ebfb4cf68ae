import numpy as np
import pytest
import torch
from helpers import rand
from reference_math import bce_with_logits, prob_2_entropy, softmax

from dabench.adaptation.advent import (
    Discriminator,
    DomainAdversarialEntropyLoss,
)
from dabench.adaptation.advent import (
    prob_2_entropy as torch_prob_2_entropy,
)


def test_discriminator_shape_and_layout():
    D = Discriminator(num_classes=19)
    assert D(torch.randn(1, 19, 64, 128)).shape == (1, 1, 2, 4)
    assert [k for k in D.state_dict() if k.endswith("weight")] == [
        f"{i}.weight" for i in (0, 2, 4, 6, 8)
    ]
    assert [m.out_channels for m in D if isinstance(m, torch.nn.Conv2d)] == [64, 128, 256, 512, 1]


def test_prob_2_entropy_matches_reference():
    prob = torch.softmax(rand(2, 5, 3, 4), dim=1)
    torch.testing.assert_close(
        torch_prob_2_entropy(prob), torch.from_numpy(prob_2_entropy(prob.numpy()))
    )
    uniform = torch.full((1, 4, 2, 2), 0.25)
    torch.testing.assert_close(torch_prob_2_entropy(uniform).sum(dim=1), torch.ones(1, 2, 2))


@pytest.mark.parametrize(("label", "y"), [("source", 1.0), ("target", 0.0)])
def test_loss_matches_reference_on_cpu(label, y):
    torch.manual_seed(0)
    D = Discriminator(num_classes=3, ndf=4).double()
    logits = rand(2, 3, 64, 64) * 2
    entropy_map = prob_2_entropy(softmax_channels(logits.numpy()))
    with torch.no_grad():
        d = D(torch.from_numpy(entropy_map)).numpy()
    expected = bce_with_logits(d, y).mean()
    got = DomainAdversarialEntropyLoss(D)(logits, label)
    torch.testing.assert_close(got, torch.as_tensor(expected))


def softmax_channels(x: np.ndarray) -> np.ndarray:
    moved = np.moveaxis(x, 1, -1)
    flat = softmax(moved.reshape(-1, moved.shape[-1])).reshape(moved.shape)
    return np.moveaxis(flat, -1, 1)


def test_eval_freezes_discriminator_and_train_unfreezes_it():
    loss = DomainAdversarialEntropyLoss(Discriminator(num_classes=3, ndf=4))
    loss.eval()
    assert not loss.training and not loss.discriminator.training
    assert not any(p.requires_grad for p in loss.discriminator.parameters())
    logits = torch.randn(1, 3, 32, 32, requires_grad=True)
    loss(logits, "source").backward()  # gradient reaches the segmenter through a frozen D
    assert logits.grad is not None and torch.count_nonzero(logits.grad) > 0
    loss.train()
    assert loss.training and all(p.requires_grad for p in loss.discriminator.parameters())


def test_bad_inputs():
    loss = DomainAdversarialEntropyLoss(Discriminator(num_classes=3, ndf=4))
    with pytest.raises(ValueError, match="domain_label must be one of 'source', 'target'"):
        loss(torch.randn(1, 3, 32, 32), "real")
    with pytest.raises(ValueError, match=r"logits must have shape \(N, 3, H, W\)"):
        loss(torch.randn(1, 5, 32, 32))
    with pytest.raises(ValueError, match="logits must be 4-D"):
        loss(torch.randn(3, 32))
