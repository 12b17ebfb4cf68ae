"""The seed's public API: every class at its seed path, with its argument names and defaults."""

import importlib
import inspect

import pytest

R = inspect.Parameter.empty  # a required argument

SEED_API = {
    "dabench.modules.grl": {
        "GradientReverseFunction": None,
        "GradientReverseLayer": None,
        "WarmStartGradientReverseLayer": {
            "alpha": 1.0,
            "lo": 0.0,
            "hi": 1.0,
            "max_iters": 1000,
            "auto_step": False,
        },
    },
    "dabench.modules.domain_discriminator": {
        "DomainDiscriminator": {
            "in_feature": R,
            "hidden_size": R,
            "batch_norm": True,
            "sigmoid": True,
        },
    },
    "dabench.modules.entropy": {"entropy": {"predictions": R, "reduction": "none"}},
    "dabench.modules.classifier": {
        "Classifier": {
            "backbone": R,
            "num_classes": R,
            "bottleneck": None,
            "bottleneck_dim": -1,
            "head": None,
            "finetune": True,
            "pool_layer": None,
        },
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.dann": {
        "DomainAdversarialLoss": {"domain_discriminator": R, "reduction": "mean", "grl": None},
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.cdan": {
        "ConditionalDomainAdversarialLoss": {
            "domain_discriminator": R,
            "entropy_conditioning": False,
            "randomized": False,
            "num_classes": -1,
            "features_dim": -1,
            "randomized_dim": 1024,
            "reduction": "mean",
        },
        "MultiLinearMap": {},
        "RandomizedMultiLinearMap": {"features_dim": R, "num_classes": R, "output_dim": 1024},
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.adda": {
        "DomainAdversarialLoss": {},
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.bsp": {
        "BatchSpectralPenalizationLoss": {},
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.osbp": {
        "UnknownClassBinaryCrossEntropy": {"t": 0.5},
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.pada": {
        "ClassWeightModule": {"temperature": 0.1},
        "AutomaticUpdateClassWeightModule": {
            "update_steps": R,
            "data_loader": R,
            "classifier": R,
            "num_classes": R,
            "device": R,
            "temperature": 0.1,
            "partial_classes_index": None,
        },
        "collect_classification_results": {"data_loader": R, "classifier": R, "device": R},
    },
    "dabench.adaptation.iwan": {
        "ImportanceWeightModule": {"discriminator": R, "partial_classes_index": None},
        "ImageClassifier": {"backbone": R, "num_classes": R, "bottleneck_dim": 256},
    },
    "dabench.adaptation.advent": {
        "Discriminator": {"num_classes": R, "ndf": 64},
        "DomainAdversarialEntropyLoss": {"discriminator": R},
    },
}

FORWARD_ARGS = {
    ("dabench.adaptation.dann", "DomainAdversarialLoss"): ["f_s", "f_t", "w_s", "w_t"],
    ("dabench.adaptation.cdan", "ConditionalDomainAdversarialLoss"): ["g_s", "f_s", "g_t", "f_t"],
    ("dabench.adaptation.adda", "DomainAdversarialLoss"): ["domain_pred", "domain_label"],
    ("dabench.adaptation.bsp", "BatchSpectralPenalizationLoss"): ["f_s", "f_t"],
    ("dabench.adaptation.osbp", "UnknownClassBinaryCrossEntropy"): ["y"],
    ("dabench.adaptation.advent", "DomainAdversarialEntropyLoss"): ["logits", "domain_label"],
}

METHODS = {
    ("dabench.adaptation.pada", "AutomaticUpdateClassWeightModule"): [
        "step",
        "get_class_weight_for_cross_entropy_loss",
        "get_class_weight_for_adversarial_loss",
        "get_partial_classes_weight",
    ],
    ("dabench.adaptation.iwan", "ImportanceWeightModule"): [
        "get_importance_weight",
        "get_partial_classes_weight",
    ],
    ("dabench.modules.domain_discriminator", "DomainDiscriminator"): ["get_parameters"],
    ("dabench.modules.classifier", "Classifier"): ["get_parameters", "freeze_bn", "features_dim"],
    ("dabench.modules.grl", "WarmStartGradientReverseLayer"): ["step"],
}


def _parameters(obj):
    target = obj.__init__ if inspect.isclass(obj) else obj
    return inspect.signature(target).parameters


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in SEED_API.items() for n in names]
)
def test_seed_path_and_defaults(module, name):
    obj = getattr(importlib.import_module(module), name)
    expected = SEED_API[module][name]
    if expected is None:
        return
    params = _parameters(obj)
    names = [p for p in params if p not in ("self", "kwargs")]
    assert names[: len(expected)] == list(expected), f"{module}.{name} argument order"
    for key, default in expected.items():
        assert params[key].default == default, f"{module}.{name}({key}=...) default"


@pytest.mark.parametrize(("key", "args"), FORWARD_ARGS.items())
def test_forward_input_order(key, args):
    cls = getattr(importlib.import_module(key[0]), key[1])
    assert list(inspect.signature(cls.forward).parameters)[1:] == args


@pytest.mark.parametrize(("key", "methods"), METHODS.items())
def test_public_methods(key, methods):
    cls = getattr(importlib.import_module(key[0]), key[1])
    for method in methods:
        assert hasattr(cls, method)
