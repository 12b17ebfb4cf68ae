"""``dabench validators``: how well each label-free criterion picked in a sweep, against the oracle
(:func:`dabench.records.selection.validator_quality`), as markdown."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dabench.data.registry import task_spec
from dabench.records import criteria, readers
from dabench.records import schema as s
from dabench.records.selection import (
    COLLAPSED_PCT,
    LEVELS,
    NEVER_REJECTS_PCT,
    early_agreement,
    failure_mode,
    first_reliable_step,
    validator_quality,
)
from dabench.task_settings import HEADLINE_METRIC


def quality_report(client: Any, experiment: str, sweep: str) -> str:
    """The markdown validator-quality tables of one sweep in the MLflow store (see
    :func:`quality_markdown`)."""
    parent = readers.require_sweep(client, experiment, sweep)
    task = parent.data.tags[s.TASK]
    frame = readers.checkpoints(client, parent)
    if frame.empty:
        raise ValueError(f"sweep {sweep!r} has no evaluated trial")
    baseline = readers.source_only_baseline(client, parent.info.experiment_id, task)
    return quality_markdown(frame, task, parent.data.tags[s.METHOD], sweep, baseline)


def quality_markdown(frame: pd.DataFrame, task: str, method: str, sweep: str,
                     baseline: tuple[float, str] | None) -> str:  # fmt: skip
    """Validator quality at checkpoint and trial level
    (:func:`~dabench.records.selection.validator_quality`), each pick's failure mode, and the
    early agreement of every criterion with how trials end
    (:func:`~dabench.records.selection.early_agreement`), for the checkpoints ``frame`` of one
    sweep (:func:`~dabench.records.readers.checkpoints`); picks below ``baseline``
    (source-only's target-test metric, and its sweep) are negative transfer."""
    setting = task_spec(task).setting
    metric = HEADLINE_METRIC[setting]
    lines = [
        f"### {method} on {task} — sweep `{sweep}`",
        "",
        f"{frame['run_id'].nunique()} trials, {len(frame)} checkpoints. Oracle: "
        f"`target_val_{metric}`; picks report `target_test_{metric}`.",
    ]
    if baseline is not None:
        lines.append(f"Source-only baseline: {baseline[0]:.2f} (sweep `{baseline[1]}`); "
                     "picks below it are marked **negative transfer**.")  # fmt: skip
    flagged = frame.apply(failure_mode, axis=1, setting=setting)
    working = frame[flagged == ""]
    if setting != "segmentation":  # no failure mode is defined for segmentation
        never = int((flagged == "never rejects").sum())
        above = ""
        if baseline is not None:
            count = int((working[f"target_test_{metric}"] >= baseline[0]).sum())
            above = f", {count} of them at or above source-only"
        lines.append(
            f"Failure modes (label-free diagnostics): {int((flagged == 'collapsed').sum())} "
            f"checkpoints collapsed (≥ {COLLAPSED_PCT:.0f} % of target-val decisions in one class)"
            + (f", {never} never reject (< {NEVER_REJECTS_PCT:.0f} % rejected)"
               if setting == "open_set" else "")
            + f"; {len(working)} checkpoints have no failure mode{above}."
        )  # fmt: skip
    for level in LEVELS:
        table = validator_quality(frame, setting, level)
        if baseline is not None:
            below = table["top1_test"] < baseline[0]
            table["top1_test"] = [
                f"{v:.2f}" + (" (negative transfer)" if b else "")
                for v, b in zip(table["top1_test"], below, strict=True)
            ]
        lines += ["", f"{level.capitalize()}-level selection:", "",
                  table.to_markdown(index=False, floatfmt=".2f")]  # fmt: skip
    oracle_points = int(frame[f"target_val_{metric}"].notna().sum())
    fewer = [c.name for c in criteria.label_free(setting)
             if c.key in frame and frame[c.key].notna().sum() < oracle_points]  # fmt: skip
    if fewer:
        lines += ["", f"Scored at fewer checkpoints (`scored`): {', '.join(fewer)} — the trials "
                  "ran with `costly_validators=last` (the default: the costly validators at the "
                  "last evaluation only), so their checkpoint-level rows and early agreement read "
                  "those points alone; `--set costly_validators=every` scores them at every "
                  "evaluation."]  # fmt: skip
    early = early_agreement(frame, setting)
    lines += ["", "Early agreement (what ASHA prunes on): Spearman correlation over trials of each "
              "criterion at an evaluation step (columns) with the trial's final oracle value:", "",
              early.to_markdown(floatfmt=".2f")]  # fmt: skip
    default = criteria.DEFAULT[setting]
    step = first_reliable_step(early, default)
    if step is not None:
        last = int(early.columns[-1])
        lines += ["", f"The {setting} default criterion, `{default}`, first agrees half as well "
                  f"as at the end at step {step} of {last} ({step / last:.0%} of the trial): "
                  "where ASHA's first rung may start pruning on it."]  # fmt: skip
    return "\n".join(lines) + "\n"
