import pytest
import torch
from helpers import rand
from reference_math import entropy as np_entropy
from torch import nn

from dabench.modules.classifier import Classifier, ImageClassifier
from dabench.modules.domain_discriminator import DomainDiscriminator
from dabench.modules.entropy import entropy

# --- entropy ----------------------------------------------------------------------------------


def test_entropy_spec_vector():
    got = entropy(torch.tensor([[0.25, 0.25, 0.5], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(got, torch.tensor([1.0396907, -1.00135e-05]), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_entropy_random_inputs(reduction):
    p = torch.softmax(rand(8, 5), dim=1)
    expected = torch.from_numpy(np_entropy(p.numpy()))
    expected = {"none": expected, "mean": expected.mean(), "sum": expected.sum()}[reduction]
    torch.testing.assert_close(entropy(p, reduction), expected)


def test_entropy_per_pixel():
    p = torch.softmax(rand(2, 4, 3, 3), dim=1)
    per_pixel = entropy(p)
    assert per_pixel.shape == (2, 3, 3)
    torch.testing.assert_close(per_pixel[1, 2, 0], entropy(p[1:2, :, 2, 0])[0])


def test_entropy_bad_input():
    with pytest.raises(
        ValueError, match="reduction must be one of 'none', 'mean', 'sum'; got 'max'"
    ):
        entropy(torch.rand(2, 3), "max")
    with pytest.raises(ValueError, match=r"predictions must be .*got shape \(3,\)"):
        entropy(torch.rand(3))


# --- DomainDiscriminator ----------------------------------------------------------------------


def test_discriminator_layouts_match_reference_keys():
    with_bn = DomainDiscriminator(6, 10)
    assert list(with_bn.state_dict()) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
        "3.weight",
        "3.bias",
        "4.weight",
        "4.bias",
        "4.running_mean",
        "4.running_var",
        "4.num_batches_tracked",
        "6.0.weight",
        "6.0.bias",
    ]
    without_bn = DomainDiscriminator(6, 10, batch_norm=False, sigmoid=False)
    assert list(without_bn.state_dict()) == [
        "0.weight",
        "0.bias",
        "3.weight",
        "3.bias",
        "6.weight",
        "6.bias",
    ]
    assert isinstance(without_bn[2], nn.Dropout) and without_bn[2].p == 0.5


def test_discriminator_outputs():
    x = torch.randn(5, 6)
    p = DomainDiscriminator(6, 10)(x)
    assert p.shape == (5, 1) and bool(((p > 0) & (p < 1)).all())
    assert DomainDiscriminator(6, 10, sigmoid=False)(x).shape == (5, 2)
    groups = DomainDiscriminator(6, 10).get_parameters()
    assert len(groups) == 1 and groups[0]["lr"] == 1.0


def test_discriminator_bad_arguments():
    with pytest.raises(ValueError, match="hidden_size must be a positive int; got 0"):
        DomainDiscriminator(4, 0)
    with pytest.raises(ValueError, match=r"features must be 2-D; got shape \(3, 4, 1\)"):
        DomainDiscriminator(4, 8)(torch.randn(3, 4, 1))
    with pytest.raises(
        ValueError, match=r"features must have shape \(N, 4\) \(4 features\); got shape \(3, 5\)"
    ):
        DomainDiscriminator(4, 8)(torch.randn(3, 5))


# --- Classifier -------------------------------------------------------------------------------


def conv_backbone() -> nn.Module:
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())
    net.out_features = 8
    return net


def test_classifier_pools_maps_and_switches_return_type():
    model = Classifier(conv_backbone(), num_classes=4)
    y, f = model(torch.randn(2, 3, 10, 10))
    assert y.shape == (2, 4) and f.shape == (2, 8)
    model.eval()
    assert model(torch.randn(2, 3, 10, 10)).shape == (2, 4)


def test_classifier_parameter_groups():
    model = ImageClassifier(conv_backbone(), 4, bottleneck_dim=16)
    assert [g["lr"] for g in model.get_parameters(0.01)] == pytest.approx([0.001, 0.01, 0.01])
    scratch = ImageClassifier(conv_backbone(), 4, finetune=False)
    assert [g["lr"] for g in scratch.get_parameters(0.01)] == pytest.approx([0.01, 0.01, 0.01])
    groups = model.get_parameters(0.01, optimize_head=False)
    assert len(groups) == 2
    head_ids = {id(p) for p in model.head.parameters()}
    assert not head_ids & {id(p) for g in groups for p in g["params"]}


def test_image_classifier_bottleneck_layouts():
    dann_like = ImageClassifier(conv_backbone(), 4, bottleneck_dim=16)
    assert [type(m) for m in dann_like.bottleneck] == [nn.Linear, nn.BatchNorm1d, nn.ReLU]
    assert dann_like.features_dim == 16 and dann_like.head.in_features == 16
    bare = ImageClassifier(conv_backbone(), 4, bottleneck_layers=0)
    assert isinstance(bare.bottleneck, nn.Identity) and bare.features_dim == 8


def test_freeze_bn_puts_batchnorm_in_eval():
    model = ImageClassifier(conv_backbone(), 4)
    model.freeze_bn()
    assert all(
        not m.training for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
    )
    assert model.training  # the model itself still returns (y, f)


def test_classifier_bad_arguments():
    with pytest.raises(ValueError, match="out_features"):
        Classifier(nn.ReLU(), 2)
    with pytest.raises(ValueError, match="bottleneck_dim must be a positive int"):
        Classifier(conv_backbone(), 2, bottleneck=nn.Identity())
    with pytest.raises(ValueError, match=r"backbone output must be .*got shape \(2, 8, 3\)"):
        Classifier(_flat3d_backbone(), 2)(torch.randn(2, 4))


def _flat3d_backbone() -> nn.Module:
    class Weird(nn.Module):
        out_features = 8

        def forward(self, x):
            return torch.zeros(x.shape[0], 8, 3)

    return Weird()
