"""dabench.models: backbone/segmenter shapes, the registry, parameter groups and offline weights."""

import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from dabench import models
from dabench.models.resnet import OFFLINE_ENV, weights_path
from dabench.modules.classifier import Classifier, ImageClassifier

R18_WEIGHTS = torchvision.models.ResNet18_Weights.IMAGENET1K_V1

# name -> (single input for the shape check, expected output shape, out_features)
BACKBONE_CASES = {
    "mlp": ((2, 2), (2, 64), 64),
    "lenet": ((2, 1, 28, 28), (2, 500), 500),
    "dtn": ((2, 3, 32, 32), (2, 512), 512),
    "resnet18": ((1, 3, 64, 64), (1, 512, 2, 2), 512),
    "resnet34": ((1, 3, 64, 64), (1, 512, 2, 2), 512),
    "resnet50": ((1, 3, 64, 64), (1, 2048, 2, 2), 2048),
    "resnet101": ((1, 3, 64, 64), (1, 2048, 2, 2), 2048),
}


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")  # as offline


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache under ``tmp_path``; the tests stay offline: a download attempt
    fails as it does on a machine without network access."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # undo any torch.hub.set_dir
    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", _no_network)
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    hub = Path(torch.hub.get_dir())
    assert hub == tmp_path / "hub"
    return hub


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- backbones ----------------------------------------------------------------------------------


def test_registry_names():
    assert models.BACKBONES == (
        "mlp",
        "lenet",
        "dtn",
        "resnet18",
        "resnet34",
        "resnet50",
        "resnet101",
    )
    assert models.SEGMENTERS == ("small_fcn", "deeplabv2_resnet50", "deeplabv2_resnet101")
    assert set(BACKBONE_CASES) == set(models.BACKBONES)


@pytest.mark.parametrize("name", list(BACKBONE_CASES))
def test_backbone_shape_and_classifier(name):
    torch.manual_seed(0)
    in_shape, out_shape, out_features = BACKBONE_CASES[name]
    backbone = models.build_backbone(name)
    assert backbone.out_features == out_features
    assert isinstance(backbone.out_features, int)
    backbone.eval()
    with torch.no_grad():
        assert tuple(backbone(torch.randn(in_shape)).shape) == out_shape

    # Inside the adaptation methods' classifier: (y, f) in train mode, y in eval mode.
    model = ImageClassifier(backbone, num_classes=3, bottleneck_dim=16)
    x = torch.randn(2, 3, 32, 32) if name.startswith("resnet") else torch.randn(2, *in_shape[1:])
    model.train()
    y, f = model(x)
    assert y.shape == (2, 3) and f.shape == (2, 16)
    model.eval()
    with torch.no_grad():
        assert model(x).shape == (2, 3)


@pytest.mark.parametrize("name", ["lenet", "resnet18"])
def test_plain_classifier_pools_or_passes_features(name):
    backbone = models.build_backbone(name)
    model = Classifier(backbone, num_classes=4)
    x = torch.randn(2, 1, 28, 28) if name == "lenet" else torch.randn(2, 3, 32, 32)
    y, f = model(x)
    assert y.shape == (2, 4) and f.shape == (2, backbone.out_features)
    y.sum().backward()
    assert all(p.grad is not None for p in backbone.parameters())


def test_mlp_options():
    mlp = models.MLP(in_features=3, hidden=8, depth=3)
    assert mlp(torch.randn(4, 3)).shape == (4, 8) and mlp.out_features == 8
    assert sum(isinstance(m, nn.Linear) for m in mlp) == 3
    assert models.build_backbone("mlp", in_channels=5)(torch.randn(2, 5)).shape == (2, 64)
    with pytest.raises(ValueError, match=r"MLP input must have shape \(N, 3\)"):
        mlp(torch.randn(4, 2))
    with pytest.raises(ValueError, match="depth must be a positive int; got 0"):
        models.MLP(depth=0)


@pytest.mark.parametrize(
    ("cls", "in_channels", "size"),
    [
        (models.LeNet, 1, 16),
        (models.LeNet, 3, 32),
        (models.DTN, 3, 16),
        (models.DTN, 1, 28),
    ],
)
def test_digit_backbones_other_sizes(cls, in_channels, size):
    net = cls(in_channels=in_channels)
    assert net(torch.randn(2, in_channels, size, size)).shape == (2, net.out_features)


def _reference_lenet() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 20, kernel_size=5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Conv2d(20, 50, kernel_size=5),
        nn.Dropout2d(p=0.5),
        nn.MaxPool2d(2),
        nn.ReLU(),
        nn.Flatten(start_dim=1),
        nn.Linear(50 * 4 * 4, 500),
        nn.ReLU(),
        nn.Dropout(p=0.5),
    )


def _reference_dtn() -> nn.Sequential:
    layers: list[nn.Module] = []
    for c_in, c_out, p in ((3, 64, 0.1), (64, 128, 0.3), (128, 256, 0.5)):
        layers += [
            nn.Conv2d(c_in, c_out, kernel_size=5, stride=2, padding=2),
            nn.BatchNorm2d(c_out),
            nn.Dropout2d(p),
            nn.ReLU(),
        ]
    layers += [
        nn.Flatten(start_dim=1),
        nn.Linear(256 * 4 * 4, 512),
        nn.BatchNorm1d(512),
        nn.ReLU(),
        nn.Dropout(),
    ]
    return nn.Sequential(*layers)


@pytest.mark.parametrize(
    ("ours", "reference", "size"),
    [(models.LeNet, _reference_lenet, (1, 28)), (models.DTN, _reference_dtn, (3, 32))],
)
def test_digit_backbones_match_reference_layout(ours, reference, size):
    """Same state-dict keys as the reference, and the same outputs at the reference input size."""
    net, ref = ours(), reference()
    ref.load_state_dict(net.state_dict())  # strict: identical keys and shapes
    net.eval(), ref.eval()
    x = torch.randn(3, size[0], size[1], size[1])
    torch.testing.assert_close(net(x), ref(x))


def test_resnet_matches_torchvision_up_to_layer4():
    torch.manual_seed(0)
    tv = torchvision.models.resnet18().eval()
    ours = models.resnet18().eval()
    assert isinstance(ours.fc, nn.Identity)
    assert not any(k.startswith("fc.") for k in ours.state_dict())
    ours.load_state_dict({k: v for k, v in tv.state_dict().items() if not k.startswith("fc.")})
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = tv.layer4(
            tv.layer3(tv.layer2(tv.layer1(tv.maxpool(tv.relu(tv.bn1(tv.conv1(x)))))))
        )
        torch.testing.assert_close(ours(x), expected)


def test_resnet_in_channels_replaces_conv1():
    net = models.build_backbone("resnet18", in_channels=1)
    assert net.conv1.in_channels == 1 and net.conv1.weight.shape == (64, 1, 7, 7)
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 512, 1, 1)


# --- pretrained weights (offline) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "filename"),
    [
        (lambda: models.build_backbone("resnet18", pretrained=True), "resnet18-f37072fd.pth"),
        (lambda: models.build_backbone("resnet50", pretrained=True), "resnet50-0676ba61.pth"),
        (
            lambda: models.build_segmenter("deeplabv2_resnet101", 5, pretrained=True),
            "resnet101-63fe2227.pth",
        ),
    ],
)
def test_pretrained_without_cached_weights_and_network_raises(hub_dir, build, filename,
                                                              monkeypatch):  # fmt: skip
    with pytest.raises(RuntimeError) as info:
        build()
    message = str(info.value)
    assert str(hub_dir / "checkpoints" / filename) in message
    assert "could not be downloaded" in message and "name resolution" in message
    assert "without network access" in message
    monkeypatch.setenv(OFFLINE_ENV, "1")  # never tries
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", None)
    with pytest.raises(RuntimeError, match=f"not cached and {OFFLINE_ENV}=1"):
        build()


def test_pretrained_loads_cached_checkpoint(hub_dir):
    torch.manual_seed(1)
    checkpoint = torchvision.models.resnet18().state_dict()  # torchvision layout, with fc
    path = Path(weights_path(R18_WEIGHTS))
    assert path == hub_dir / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(checkpoint, path)

    torch.manual_seed(2)
    net = models.build_backbone("resnet18", pretrained=True)
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, checkpoint[key], msg=key)

    grey = models.build_backbone("resnet18", in_channels=1, pretrained=True)
    assert grey.conv1.weight.shape == (64, 1, 7, 7)  # new, not from the checkpoint
    torch.testing.assert_close(grey.layer4[1].conv2.weight, checkpoint["layer4.1.conv2.weight"])


def test_missing_weights_are_downloaded_by_torchvision_hash_checked(hub_dir, monkeypatch):
    calls = []
    fake = torchvision.models.resnet18().state_dict()

    def fake_load(url, **kwargs):
        calls.append((url, kwargs))
        return fake

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", fake_load)
    net = models.resnet18(pretrained=True)
    assert [url for url, _ in calls] == [R18_WEIGHTS.url]
    assert calls[0][1]["weights_only"] is True and calls[0][1]["check_hash"] is True
    torch.testing.assert_close(net.conv1.weight, fake["conv1.weight"])


def test_pretrained_rejected_for_scratch_models():
    with pytest.raises(ValueError, match="backbone 'lenet' has no pretrained weights"):
        models.build_backbone("lenet", pretrained=True)
    with pytest.raises(ValueError, match="segmenter 'small_fcn' has no pretrained weights"):
        models.build_segmenter("small_fcn", 3, pretrained=True)


# --- segmenters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "in_channels", "size"),
    [
        ("small_fcn", 3, (64, 64)),
        ("small_fcn", 1, (30, 46)),
        ("deeplabv2_resnet50", 3, (64, 64)),
        ("deeplabv2_resnet101", 3, (64, 64)),
    ],
)
def test_segmenter_output_matches_input_size(name, in_channels, size):
    net = models.build_segmenter(name, num_classes=5, in_channels=in_channels)
    out = net(torch.randn(1, in_channels, *size))
    assert out.shape == (1, 5, *size)


def test_deeplab_structure():
    net = models.deeplabv2_resnet50(num_classes=4)
    assert net.backbone(torch.randn(1, 3, 64, 64)).shape == (1, 2048, 8, 8)  # output stride 8
    assert [c.dilation for c in net.head.conv2d_list] == [(6, 6), (12, 12), (18, 18), (24, 24)]
    assert [c.out_channels for c in net.head.conv2d_list] == [4, 4, 4, 4]


def _check_groups_cover_parameters(model, groups):
    ids = [id(p) for group in groups for p in group["params"]]
    assert len(ids) == len(set(ids)), "a parameter is in two groups"
    assert set(ids) == {id(p) for p in model.parameters()}
    assert all(set(group) == {"params", "lr"} for group in groups)


def test_get_parameters_groups():
    fcn = models.SmallFCN(num_classes=3, width=8)
    groups = fcn.get_parameters(base_lr=0.01)
    assert [g["lr"] for g in groups] == pytest.approx([0.01, 0.01])
    _check_groups_cover_parameters(fcn, fcn.get_parameters())

    scratch = models.deeplabv2_resnet50(num_classes=3)
    assert [g["lr"] for g in scratch.get_parameters(0.01)] == pytest.approx([0.01, 0.01])
    _check_groups_cover_parameters(scratch, scratch.get_parameters())
    assert all(p.requires_grad for p in scratch.parameters())

    finetuned = models.DeepLabV2(scratch.backbone, num_classes=3, pretrained=True)
    assert [g["lr"] for g in finetuned.get_parameters(0.01)] == pytest.approx([0.001, 0.01])
    _check_groups_cover_parameters(finetuned, finetuned.get_parameters())
    frozen = [p for m in finetuned.backbone.modules() if isinstance(m, nn.BatchNorm2d)
              for p in m.parameters()]  # fmt: skip
    assert frozen and not any(p.requires_grad for p in frozen)
    assert all(p.requires_grad for p in finetuned.backbone.conv1.parameters())

    optimizer = torch.optim.SGD(finetuned.get_parameters(0.01), lr=0.01)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.001, 0.01])


# --- errors and determinism ---------------------------------------------------------------------


def test_unknown_names_list_known_ones():
    with pytest.raises(
        ValueError, match="unknown backbone 'vgg16'; known: mlp, lenet, dtn, resnet18"
    ):
        models.build_backbone("vgg16")
    with pytest.raises(
        ValueError, match="known: small_fcn, deeplabv2_resnet50, deeplabv2_resnet101"
    ):
        models.build_segmenter("unet", 3)
    with pytest.raises(ValueError, match="unknown ResNet 'resnet152'"):
        models.build_resnet("resnet152")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: models.build_backbone("lenet", in_channels=0),
            "in_channels must be a positive int",
        ),
        (lambda: models.build_segmenter("small_fcn", 0), "num_classes must be a positive int"),
        (lambda: models.SmallFCN(3, width=2.5), "width must be a positive int"),
        (lambda: models.DTN(in_channels=True), "in_channels must be a positive int; got True"),
        (
            lambda: models.build_resnet(
                "resnet18", replace_stride_with_dilation=[False, True, True]
            ),
            "needs a Bottleneck ResNet",
        ),
    ],
)
def test_bad_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "build",
    [
        lambda: models.build_backbone("mlp"),
        lambda: models.build_backbone("lenet"),
        lambda: models.build_backbone("dtn"),
        lambda: models.build_backbone("resnet18", in_channels=1),
        lambda: models.build_segmenter("small_fcn", 4),
        lambda: models.build_segmenter("deeplabv2_resnet50", 4),
    ],
)
def test_construction_is_deterministic(build):
    torch.manual_seed(123)
    first = build().state_dict()
    torch.manual_seed(123)
    second = build().state_dict()
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key
    torch.manual_seed(124)
    third = build().state_dict()
    assert any(not torch.equal(first[k], third[k]) for k in first if first[k].is_floating_point())


def test_fetch_weights_finds_the_cached_file_or_has_torchvision_download_it(hub_dir, monkeypatch):
    from dabench.models.resnet import fetch_weights

    path = hub_dir / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(RuntimeError, match="could not be downloaded") as info:
        fetch_weights("resnet18")
    assert str(path) in str(info.value)
    calls = []

    def download(url, **kwargs):  # torchvision's download into the cache, as it does it
        calls.append((url, kwargs["check_hash"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({}, path)
        return {}

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", download)
    assert fetch_weights("resnet18") == str(path) and calls == [(R18_WEIGHTS.url, True)]
    assert fetch_weights("resnet18") == str(path) and len(calls) == 1  # cached: not again
    with pytest.raises(ValueError, match="unknown ResNet 'vgg16'"):
        fetch_weights("vgg16")
