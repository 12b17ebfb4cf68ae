import pytest
import torch
from helpers import LinearSigmoid, rand
from reference_math import iwan_weight, pada_class_weight

from dabench.adaptation.iwan import ImportanceWeightModule
from dabench.adaptation.pada import (
    AutomaticUpdateClassWeightModule,
    ClassWeightModule,
    collect_classification_results,
)

SPEC_LOGITS = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.0, 0.0]])


# --- PADA -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [(0.1, [1.0, 0.6191933, 0.0596538]), (1.0, [1.0, 0.9411172, 0.6291125])],
)
def test_class_weight_spec_vectors(temperature, expected):
    got = ClassWeightModule(temperature)(SPEC_LOGITS)
    torch.testing.assert_close(got, torch.tensor(expected), rtol=0, atol=1e-6)


@pytest.mark.parametrize("temperature", [0.01, 0.1, 2.0])
def test_class_weight_random_inputs(temperature):
    logits = rand(20, 7, seed=4)
    expected = pada_class_weight(logits.numpy(), temperature)
    torch.testing.assert_close(ClassWeightModule(temperature)(logits), torch.from_numpy(expected))


def test_class_weight_does_not_detach_callers_tensor():
    w = torch.randn(3, 3, requires_grad=True)
    logits = w * 2.0
    ClassWeightModule()(logits)
    assert logits.requires_grad and logits.grad_fn is not None
    logits.sum().backward()  # the caller's graph is intact
    assert w.grad is not None


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan")])
def test_class_weight_rejects_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        ClassWeightModule(temperature)


class Counting(torch.nn.Module):
    """A linear classifier that records how often it ran and in which mode."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 3)
        self.modes = []

    def forward(self, x):
        self.modes.append(self.training)
        return self.linear(x)


def test_collect_results_runs_in_eval_mode_and_restores_training():
    net = Counting().train()
    loader = [(torch.randn(5, 4), torch.zeros(5)), (torch.randn(2, 4), torch.zeros(2))]
    out = collect_classification_results(loader, net, "cpu")
    assert out.shape == (7, 3) and not out.requires_grad
    assert net.modes == [False, False] and net.training


def test_automatic_update_recomputes_every_update_steps():
    net = Counting()
    loader = [torch.randn(6, 4, generator=torch.Generator().manual_seed(0))]
    module = AutomaticUpdateClassWeightModule(3, loader, net, 3, "cpu", temperature=0.5)
    for _ in range(2):
        module.step()
        assert torch.equal(module.get_class_weight_for_cross_entropy_loss(), torch.ones(3))
    module.step()
    with torch.no_grad():
        expected = pada_class_weight(net.linear(loader[0]).double().numpy(), 0.5)
    torch.testing.assert_close(
        module.get_class_weight_for_cross_entropy_loss().double(),
        torch.from_numpy(expected),
        rtol=1e-6,
        atol=1e-7,
    )
    assert len(net.modes) == 1


def test_adversarial_weights_spec_vector():
    module = AutomaticUpdateClassWeightModule(1, [], torch.nn.Identity(), 3, "cpu")
    module.class_weight = torch.tensor([0.2, 1.0, 0.5])
    w_s, w_t = module.get_class_weight_for_adversarial_loss(torch.tensor([0, 1, 2, 1]))
    torch.testing.assert_close(w_s, torch.tensor([0.2, 1.0, 0.5, 1.0]))
    torch.testing.assert_close(w_t, torch.full((4,), 0.675))


def test_partial_classes_weight():
    module = AutomaticUpdateClassWeightModule(
        1, [], torch.nn.Identity(), 4, "cpu", partial_classes_index=[0, 2]
    )
    module.class_weight = torch.tensor([1.0, 0.2, 0.6, 0.4])
    shared, others = module.get_partial_classes_weight()
    assert shared.item() == pytest.approx(0.8) and others.item() == pytest.approx(0.3)
    with pytest.raises(ValueError, match="partial_classes_index"):
        AutomaticUpdateClassWeightModule(
            1, [], torch.nn.Identity(), 4, "cpu"
        ).get_partial_classes_weight()


def test_automatic_update_checks_class_count():
    module = AutomaticUpdateClassWeightModule(
        1, [torch.randn(2, 4)], torch.nn.Linear(4, 5), 3, "cpu"
    )
    with pytest.raises(ValueError, match="outputs 5 classes, but num_classes=3"):
        module.step()


# --- IWAN -------------------------------------------------------------------------------------


def test_importance_weights_match_reference_and_are_detached():
    D = LinearSigmoid(6, seed=2)
    f = rand(10, 6).requires_grad_()
    w = ImportanceWeightModule(D).get_importance_weight(f)
    assert w.shape == (10, 1) and not w.requires_grad
    torch.testing.assert_close(w, torch.from_numpy(iwan_weight(D.numpy(f.detach().numpy()))))


def test_partial_classes_weight_by_label_with_empty_group():
    module = ImportanceWeightModule(LinearSigmoid(2), partial_classes_index=[1, 3])
    weights = torch.tensor([[2.0], [1.0], [4.0]])
    shared, others = module.get_partial_classes_weight(weights, torch.tensor([1, 0, 3]))
    assert shared.item() == pytest.approx(3.0) and others.item() == pytest.approx(1.0)
    shared, others = module.get_partial_classes_weight(weights, torch.tensor([1, 1, 3]))
    assert shared.item() == pytest.approx(7 / 3) and others.item() == 0.0
