import math

import pytest
import torch
from helpers import rand
from reference_math import grl_lambda

from dabench.modules.grl import (
    GradientReverseFunction,
    GradientReverseLayer,
    WarmStartGradientReverseLayer,
)

SPEC_VALUES = {
    0: 0.0,
    1: 0.0005,
    100: 0.0499584,
    1000: 0.4621172,
    2000: 0.7615942,
    5000: 0.9866143,
    10000: 0.9999092,
}


def at_iteration(grl: WarmStartGradientReverseLayer, i: int) -> WarmStartGradientReverseLayer:
    grl.iter_num.fill_(i)
    return grl


@pytest.mark.parametrize(("i", "expected"), SPEC_VALUES.items())
def test_schedule_matches_spec_vectors(i, expected):
    assert at_iteration(WarmStartGradientReverseLayer(), i).coefficient == pytest.approx(
        expected, abs=5e-8
    )


def test_schedule_hi_2_matches_spec():
    grl = at_iteration(WarmStartGradientReverseLayer(hi=2.0), 1000)
    assert grl.coefficient == pytest.approx(0.9242343, abs=5e-8)


def test_schedule_equals_formula_on_random_settings():
    g = torch.Generator().manual_seed(1)
    for _ in range(200):
        alpha, lo, hi = (torch.rand(3, generator=g) * torch.tensor([20.0, 2.0, 5.0])).tolist()
        n = int(torch.randint(1, 50_000, (1,), generator=g))
        i = int(torch.randint(0, 100_000, (1,), generator=g))
        grl = at_iteration(WarmStartGradientReverseLayer(alpha, lo - 1, hi, n), i)
        assert grl.coefficient == pytest.approx(
            grl_lambda(i, alpha, lo - 1, hi, n), rel=1e-12, abs=1e-12
        )
        assert grl.coefficient == pytest.approx(
            (lo - 1) + (hi - lo + 1) * math.tanh(alpha * i / (2 * n)), rel=1e-9, abs=1e-12
        )


def test_backward_scales_gradient_by_minus_coefficient():
    x = rand(4, 3).requires_grad_()
    upstream = rand(4, 3, seed=1)
    y = GradientReverseFunction.apply(x, 0.3)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()
    torch.testing.assert_close(x.grad, -0.3 * upstream)


def test_plain_layer_reverses_with_coefficient_one():
    x = rand(5).requires_grad_()
    GradientReverseLayer()(x).sum().backward()
    torch.testing.assert_close(x.grad, -torch.ones(5, dtype=torch.float64))


def test_auto_step_uses_current_counter_then_advances():
    grl = WarmStartGradientReverseLayer(auto_step=True)
    grads = []
    for _ in range(3):
        x = torch.ones(1, requires_grad=True)
        grl(x).sum().backward()
        grads.append(x.grad.item())
    assert grads == pytest.approx([-grl_lambda(0), -grl_lambda(1), -grl_lambda(2)], abs=1e-7)
    assert grads[0] == 0.0  # first step: exactly no adversarial gradient
    assert int(grl.iter_num) == 3


def test_without_auto_step_counter_moves_only_on_step():
    grl = WarmStartGradientReverseLayer()
    grl(torch.ones(2))
    grl(torch.ones(2))
    assert int(grl.iter_num) == 0
    grl.step()
    assert int(grl.iter_num) == 1


def test_counter_survives_state_dict_round_trip():
    grl = WarmStartGradientReverseLayer(auto_step=True)
    for _ in range(7):
        grl(torch.ones(1))
    state = grl.state_dict()
    assert list(state) == ["iter_num"] and int(state["iter_num"]) == 7
    resumed = WarmStartGradientReverseLayer(auto_step=True)
    resumed.load_state_dict(state)
    assert resumed.coefficient == grl.coefficient == pytest.approx(grl_lambda(7))
    x = torch.ones(1, requires_grad=True)
    resumed(x).sum().backward()
    assert x.grad.item() == pytest.approx(-grl_lambda(7))


def test_counter_stays_integer_under_dtype_casts():
    grl = WarmStartGradientReverseLayer().double().half().float()
    assert grl.iter_num.dtype == torch.int64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"max_iters": 0}, "max_iters"), ({"alpha": -1.0}, "alpha"), ({"hi": float("nan")}, "hi")],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WarmStartGradientReverseLayer(**kwargs)
