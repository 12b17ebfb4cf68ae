"""GPU readiness, tested on CPU: mixed precision (``precision``: bf16 autocast; fp16 with a
gradient scaler), ``channels_last``, and the loader's persistent DataLoader workers. What needs a
GPU — the speed, pinned-memory copies, the dataset copied to the device — is measured by
``benchmarks/gpu.py`` on a GPU machine."""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import pytest
import torch
from torch.utils.data import Dataset

from dabench.data import get_task
from dabench.data.loading import InfiniteBatches
from dabench.data.task import InMemoryDataset
from dabench.methods import Batch, get_method
from dabench.precision import prepare
from dabench.trainable import resolve_config, run_trial

MOONS = {"method": "dann", "task": "moons/rot40", "steps": 4, "eval_every": 4, "batch_size": 16}


def test_bf16_runs_the_model_in_bf16_and_every_loss_in_float32():
    cfg = resolve_config({**MOONS, "precision": "bf16"})
    task = get_task(cfg["task"], seed=0)
    recipe = get_method("dann")(task, cfg, torch.device("cpu"))
    prepare(recipe, torch.device("cpu"), cfg)
    seen: dict[str, torch.dtype] = {}
    first_linear = next(m for m in recipe.model.modules() if isinstance(m, torch.nn.Linear))
    loss_module = recipe.modules()["domain_adv"]  # dabench.adaptation.dann's loss

    def record(name: str, tensor: torch.Tensor) -> None:  # a hook that returns None
        seen.setdefault(name, tensor.dtype)

    first_linear.register_forward_hook(lambda m, i, o: record("model", o))
    loss_module.register_forward_pre_hook(lambda m, i: record("loss_input", i[0]))
    x, y = task.split("source_train").batch(torch.arange(16))
    x_t = task.split("target_adapt").batch(torch.arange(16))
    loss, _ = recipe.loss(Batch(x, y, x_t))
    assert seen == {"model": torch.bfloat16, "loss_input": torch.float32}
    assert loss.dtype == torch.float32
    final = run_trial({**MOONS, "precision": "bf16"})
    reference = run_trial(MOONS)
    assert math.isfinite(final["train_loss"]) and final["train_loss"] != reference["train_loss"]
    assert final["train_loss"] == pytest.approx(reference["train_loss"], rel=0.05)


def test_fp16_scales_the_loss_and_a_resumed_trial_ends_as_an_uninterrupted_one(tmp_path):
    config = {**MOONS, "precision": "fp16", "steps": 6, "eval_every": 3}

    class KilledError(Exception):
        pass

    def die_at_step_3(metrics: dict) -> None:
        if metrics["step"] == 3:  # after its checkpoint was written
            raise KilledError

    whole = run_trial(config)
    with pytest.raises(KilledError):
        run_trial(config, die_at_step_3, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "trial.pt", weights_only=True)
    assert state["scaler"]["scale"] > 0  # the gradient scaler's state is checkpointed
    resumed = run_trial(config, resume_from=tmp_path)
    clock = {"time_s", "samples_per_s"}
    assert {k: v for k, v in resumed.items() if k not in clock} == {
        k: v for k, v in whole.items() if k not in clock
    }
    with pytest.raises(ValueError, match=r"'precision' must be one of \('fp32', 'bf16', 'fp16'\)"):
        resolve_config({**MOONS, "precision": "int8"})


def test_channels_last_lays_out_the_conv_weights_and_trains_alike():
    digits = {"method": "source_only", "task": "digits/synth2hand", "steps": 2, "eval_every": 2}
    cfg = resolve_config(digits)
    assert cfg["channels_last"] is True  # the default
    recipe = get_method("source_only")(get_task(cfg["task"], seed=0), cfg, torch.device("cpu"))
    prepare(recipe, torch.device("cpu"), cfg)
    convs = [m for m in recipe.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    nhwc, nchw = run_trial(digits), run_trial({**digits, "channels_last": False})
    assert nhwc["train_loss"] == pytest.approx(nchw["train_loss"], rel=1e-4)


class FromDisk(Dataset):
    """A dataset served sample by sample (as images on disk are): each sample is its index and
    the process that loaded it."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor([index, os.getpid()]), torch.tensor(index)


def test_loader_workers_persist_across_epochs_in_the_in_memory_order_and_resume():
    def batches(dataset, workers: int = 0) -> InfiniteBatches:
        generator = torch.Generator().manual_seed(0)
        return InfiniteBatches(dataset, 3, generator, torch.device("cpu"), workers)

    in_memory = batches(InMemoryDataset(torch.arange(8)[:, None], torch.arange(8)))
    expected = [next(in_memory)[1].tolist() for _ in range(6)]  # 3 epochs of 2 batches
    disk = batches(FromDisk(), workers=2)
    drawn = [next(disk) for _ in range(6)]
    assert [y.tolist() for _, y in drawn] == expected
    workers = {int(pid) for x, _ in drawn for pid in x[:, 1]}
    assert len(workers) <= 2 and os.getpid() not in workers  # the same 2 workers every epoch
    next(disk)  # mid-epoch: a resumed iterator starts its loader at the saved position
    again = batches(FromDisk(), workers=2)
    again.load_state_dict(disk.state_dict())
    again.generator.set_state(disk.generator.get_state())  # the caller's to save
    assert [next(again)[1].tolist() for _ in range(3)] == [next(disk)[1].tolist() for _ in range(3)]


@pytest.mark.slow
def test_the_gpu_benchmark_runs_dry_on_cpu(ray_local, tmp_path):
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"
    spec = importlib.util.spec_from_file_location("gpu_benchmark", script)
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    out = tmp_path / "gpu.md"
    assert gpu.main(["--dry-run", "--out", str(out), "--work", str(tmp_path / "ray")]) == 0
    text = out.read_text()
    assert "**Dry run**" in text and "| 2 | " in text and "bf16+channels_last" in text
    # the real-data-shaped trial: office31/D2W through the real loaders, on a synthetic tree
    assert "## One real-data-shaped trial" in text and "`office31/D2W`" in text
    assert "then one evaluation of 368 images" in text  # 10 % of dslr, 2 × 20 % of webcam
    assert (tmp_path / "ray" / "office31-8px" / "image_list" / "webcam.txt").is_file()
