"""The progress of a ``dabench benchmark``: sweeps done / running / waiting, seeds groups and
trials done, the best label-free pick so far per (method, task), elapsed time and an estimate of
the time left.

On a terminal it is a live ``rich`` display (a bar of the estimated work done, a status line and
one row per sweep); otherwise (a log file, CI) one line per finished sweep or seeds group, each
followed by the status line. The displays listen to the engine's events
(:mod:`dabench.engine.events`): the benchmark's searcher (:mod:`dabench.engine.multiplex`)
publishes its state whenever it changes, a sweep's monitor its trials.

**Time left** is the remaining work divided by this session's rate. Work is counted in trial
seconds (each trial's ``time_s``). A sweep's trials still to run are expected to take as long
as its finished ones on average (so ASHA's pruning is counted), or, before any finished, their
steps at the seconds per step measured for the sweep, its task or the whole benchmark; each
sweep still to finish is expected to add as many seeds groups as the finished sweeps did on
average (at most one per selection criterion), each of full-length runs. An estimate, shown with
``≈``; it settles as sweeps finish.
"""

from __future__ import annotations

import math
import statistics
import time
from abc import ABC, abstractmethod
from contextlib import ExitStack
from typing import Any, Self

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from dabench.engine import events


def duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Display(ABC):
    """A live display: inside its ``with`` block it listens to the engine's events
    (:meth:`listen`) and, on a terminal, redraws its ``live`` part."""

    live: Live | None = None

    def __enter__(self) -> Self:
        self.stack = ExitStack()
        self.stack.enter_context(events.listening(self.listen))
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()
        if self.live is not None:
            self.live.stop()

    @abstractmethod
    def listen(self, event: str, details: dict[str, Any]) -> None:
        """Show what ``event`` (with its ``details``) changed."""


class BenchmarkProgress(Display):
    """The display of benchmark ``name`` (the engine's ``started`` event names it and the wall
    time of earlier sessions, ``previous_s``). Use as a context manager: it listens to the
    engine's events inside the ``with`` block."""

    def __init__(self, name: str = "benchmark", previous_s: float = 0.0,
                 console: Console | None = None, refresh_s: float = 1.0) -> None:  # fmt: skip
        self.name, self.previous_s, self.refresh_s = name, previous_s, refresh_s
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.start = time.time()
        self.shown: int | None = None  # events of earlier sessions are not shown again
        self.work_at_start: float | None = None
        self.last_render = 0.0
        self.live = (
            Live(console=self.console, refresh_per_second=2, transient=False)
            if self.console.is_terminal
            else None
        )

    def listen(self, event: str, details: dict[str, Any]) -> None:
        if event == "started":
            self.name = details["title"].removeprefix("benchmark ")
            self.previous_s = details.get("previous_s", 0.0)
        elif event == "benchmark":
            self.update(details["searcher"])

    def update(self, searcher: Any) -> None:
        if self.shown is None:
            self.shown = len(searcher.events)
        new, self.shown = searcher.events[self.shown :], len(searcher.events)
        now = time.time()
        if not new and now - self.last_render < self.refresh_s:
            return
        self.last_render = now
        state = self.state(searcher)
        printer = self.live.console if self.live is not None else self.console
        for event in new:
            printer.print(f"[{time.strftime('%H:%M:%S')}] {event}", markup=False)
        if self.live is not None:
            self.live.update(self.render(searcher, state))
        elif new:
            printer.print(f"[{time.strftime('%H:%M:%S')}] {state['line']}", markup=False)

    # --- what is shown -----------------------------------------------------------------------

    def state(self, searcher: Any) -> dict[str, Any]:
        """Counts, elapsed time, work done and left (trial seconds), time left and the status
        line."""
        sweeps, groups = searcher.sweeps, searcher.groups
        done = sum(job.done for job in sweeps)
        running = sum(not job.done and job.started is not None for job in sweeps)
        trials = [s for job in [*sweeps, *groups] for s in job.trials.values()]
        finished_trials = sum(s is not None for s in trials)
        elapsed = time.time() - self.start
        work, left = work_done(searcher), work_left(searcher)
        if self.work_at_start is None:
            self.work_at_start = work
        rate = (work - self.work_at_start) / elapsed if elapsed > 0 else 0.0
        eta = left / rate if left is not None and rate > 0 else None
        line = (
            f"{self.name}: sweeps {done} done, {running} running, "
            f"{len(sweeps) - done - running} waiting · seeds groups "
            f"{sum(g.done for g in groups)}/{len(groups)} done · trials {finished_trials} done, "
            f"{len(trials) - finished_trials} running · elapsed "
            f"{duration(self.previous_s + elapsed)} · left "
            + (f"≈ {duration(eta)}" if eta is not None else "(estimating)")
        )  # fmt: skip
        return {"line": line, "work": work, "left": left, "eta": eta}

    def render(self, searcher: Any, state: dict[str, Any]) -> Group:
        work, left = state["work"], state["left"]
        bar = ProgressBar(total=max(work + (left or 0.0), 1e-9), completed=work, width=60)
        table = Table(box=None, pad_edge=False)
        for column in ("task", "method", "sweep", "trials", "best label-free pick so far",
                       "its target-test", "seeds"):  # fmt: skip
            table.add_column(column)
        for job in searcher.sweeps:
            pick, objective = best_so_far(job), job.objective
            test = objective.test_key
            groups = [g for g in searcher.groups if g.sweep.name == job.name]
            status = "done" if job.done else "running" if job.started is not None else "waiting"
            table.add_row(
                job.options.task, job.options.method, status,
                f"{sum(s is not None for s in job.trials.values())}/{job.total}",
                f"{objective.name} {pick[objective.key]:.4g}" if pick else "–",
                f"{pick[test]:.2f}" if pick and test in pick else "–",
                f"{sum(g.done for g in groups)}/{len(groups)}" if groups else "–",
            )  # fmt: skip
        row = Table.grid()  # a bar alone does not end its line
        row.add_row(bar)
        return Group(row, Text(state["line"], overflow="fold"), table)


def best_so_far(job: Any) -> dict[str, float] | None:
    """The latest results of the sweep's current label-free pick: the trial-level rule
    (:func:`dabench.records.selection.pick`) on what has been reported so far — the best last
    value of the objective among the completed trials, or among all if none completed."""
    key, sign = job.objective.key, job.objective.sign
    scored = {t: r for t, r in job.results.items() if math.isfinite(r.get(key, math.nan))}
    completed = {t: r for t, r in scored.items() if job.trials.get(t) == "completed"}
    pool = completed or scored
    return max(pool.values(), key=lambda r: sign * r[key]) if pool else None


def work_done(searcher: Any) -> float:
    """Trial seconds run so far: every trial's latest ``time_s``."""
    jobs = [*searcher.sweeps, *searcher.groups]
    return sum(r.get("time_s", 0.0) for job in jobs for r in job.results.values())


def work_left(searcher: Any) -> float | None:
    """Trial seconds still to run (see the module doc); ``None`` before any measurement."""
    per_step = _seconds_per_step(searcher)
    if not per_step:
        return None
    everywhere = statistics.mean(per_step.values())

    def full(job: Any) -> float:  # one trial of the sweep to its last step
        options = job.options
        rate = per_step.get((options.method, options.task))
        if rate is None:
            same_task = [v for (_, task), v in per_step.items() if task == options.task]
            rate = statistics.mean(same_task) if same_task else everywhere
        return options.steps * rate

    closed = [job for job in searcher.sweeps if job.done and job.trials]
    groups_per_sweep = (
        sum(g.sweep.name in {j.name for j in closed} for g in searcher.groups) / len(closed)
        if closed
        else float(len(searcher.select) or 2)
    )
    left = 0.0
    for job in searcher.sweeps:
        if job.done:
            continue
        ended = [job.results.get(t, {}).get("time_s", 0.0) for t, s in job.trials.items()
                 if s is not None]  # fmt: skip
        typical = statistics.mean(ended) if ended else full(job)
        left += (job.total - len(job.trials)) * typical
        for trial, status in job.trials.items():
            if status is None:
                left += max(typical - job.results.get(trial, {}).get("time_s", 0.0), 0.0)
        left += searcher.seeds * groups_per_sweep * full(job)
    for group in searcher.groups:
        if group.done:
            continue
        length = full(group.sweep)
        left += len(group.pending) * length
        for trial, status in group.trials.items():
            if status is None:
                left += max(length - group.results.get(trial, {}).get("time_s", 0.0), 0.0)
    return left


def _seconds_per_step(searcher: Any) -> dict[tuple[str, str], float]:
    """Measured training seconds per step, per (method, task)."""
    totals: dict[tuple[str, str], list[float]] = {}
    for job in [*searcher.sweeps, *searcher.groups]:
        sweep = getattr(job, "sweep", job)
        key = (sweep.options.method, sweep.options.task)
        for result in job.results.values():
            if result.get("step", 0) > 0 and "time_s" in result:
                seconds, steps = totals.setdefault(key, [0.0, 0.0])
                totals[key] = [seconds + result["time_s"], steps + result["step"]]
    return {key: seconds / steps for key, (seconds, steps) in totals.items() if steps > 0}


# --- one sweep (or one rerun's seeds group) -----------------------------------------------------


class SweepProgress(Display):
    """The live display of a sweep (or a seeds group) while its trials run: trials running,
    completed, pruned and failed out of the total, the best objective so far with its oracle,
    elapsed time and an estimate of the time left, on one status line under the finished trials'
    lines (which the engine logs).

    On a terminal it is a ``rich`` live line, redrawn four times a second (the elapsed time
    runs; before the first trial starts it says so); otherwise (a log file, CI) the status line is
    printed after each finished trial. **Time left** counts the steps still to train — every
    trial to its last step, so it is an upper bound when ASHA prunes (shown with ``≤``) — at the
    rate of steps trained in this session. Use as a context manager: it listens to the engine's
    events (:mod:`dabench.engine.events`) inside the ``with`` block; each ``started`` event (a
    sweep, then each seeds group) gives it its title."""

    def __init__(self, title: str = "sweep", console: Console | None = None) -> None:
        self.title = title
        self.console = console or Console(stderr=True, soft_wrap=True)
        self.start = time.time()
        self.first_steps: float | None = None  # steps trained when the first report came
        self.first_time = 0.0
        self.seen: tuple[Any, list, tuple[Any, bool] | None] | None = None  # the last update
        self.live = (
            Live(self, console=self.console, refresh_per_second=4, transient=True)
            if self.console.is_terminal
            else None
        )

    def __rich__(self) -> Text:
        """The status line now (what the live display redraws)."""
        if self.seen is None:
            elapsed = duration(time.time() - self.start)
            return Text(f"{self.title}: starting Ray and the first trials … {elapsed}")
        try:
            return Text(self.status_line(*self.seen[:2], time.time(), self.seen[2]))
        except RuntimeError:  # Tune changed its trial list while this thread read it
            return Text(self.title)

    def listen(self, event: str, details: dict[str, Any]) -> None:
        if event == "started":  # a sweep, or the next seeds group
            self.title, self.seen = details["title"], None
            self.start, self.first_steps = time.time(), None
        elif event == "trials":
            self.update(details["monitor"], details["trials"], details["ending"])

    def update(self, monitor: Any, trials: list, ending: tuple[Any, bool] | None = None) -> None:
        """The state of ``trials`` (Ray Tune's ``Trial`` objects; ``ending``: the one finishing
        now, which Tune still shows as running, and whether it failed); ``monitor``: the sweep's
        :class:`~dabench.engine.sweep.TrialMonitor` (objective, oracle, steps, trials)."""
        self.seen = (monitor, list(trials), ending)
        if self.live is None and ending is not None:
            status = self.status_line(monitor, trials, time.time(), ending)
            self.console.print(status, markup=False, highlight=False)

    def status_line(
        self, monitor: Any, trials: list, now: float, ending: tuple[Any, bool] | None = None
    ) -> str:
        """``title: 2 running, 3 completed, 1 pruned, 0 failed of 8 · best bnm 0.0627 (oracle
        84.75) trial-3 step 750 · 0:01:10 elapsed, ≤ 0:02:00 left``."""
        objective, oracle = monitor.objective, monitor.oracle
        counts = trial_counts(trials, monitor.steps, ending)
        best = best_trial(trials, objective)
        shown = "best: –"
        if best is not None:  # named, with its step: a running trial's may be no printed line's
            trial, result = best
            shown = f"best {objective.name} {result[objective.key]:.4g}"
            if oracle.key != objective.key and oracle.key in result:
                shown += f" (oracle {result[oracle.key]:.4g})"
            shown += f" {trial} step {result.get('step', '?')}"
        trained = sum((t.last_result or {}).get("step", 0) for t in trials)
        if self.first_steps is None and trained > 0:
            self.first_steps, self.first_time = trained, now
        eta = "(estimating)"  # shown as "(estimating) left"
        if self.first_steps is not None and trained > self.first_steps:
            rate = (trained - self.first_steps) / (now - self.first_time)
            left = steps_left(trials, monitor.steps, monitor.num_samples, ending)
            eta = f"≤ {duration(left / rate)}" if left else "≈ 0:00:00"
        return (
            f"{self.title}: {counts['running']} running, {counts['completed']} completed, "
            f"{counts['pruned']} pruned, {counts['failed']} failed of {monitor.num_samples} · "
            f"{shown} · {duration(now - self.start)} elapsed, {eta} left"
        )


def _state(trial: Any, ending: tuple[Any, bool] | None) -> str:
    """Tune's status of ``trial``; ``TERMINATED`` or ``ERROR`` if it is the trial ending now
    (``ending``: that trial and whether it failed)."""
    if ending is None or trial is not ending[0]:
        return trial.status
    return "ERROR" if ending[1] else "TERMINATED"


def trial_counts(
    trials: list, steps: int, ending: tuple[Any, bool] | None = None
) -> dict[str, int]:
    """Tune's trials by state: running (or pending), completed (to the last step), pruned
    (stopped earlier without an error) and failed."""
    counts = {"running": 0, "completed": 0, "pruned": 0, "failed": 0}
    for trial in trials:
        state = _state(trial, ending)
        if state == "ERROR":
            counts["failed"] += 1
        elif state == "TERMINATED":
            done = (trial.last_result or {}).get("step", 0) >= steps
            counts["completed" if done else "pruned"] += 1
        else:
            counts["running"] += 1
    return counts


def best_trial(trials: list, objective: Any) -> tuple[Any, dict[str, Any]] | None:
    """The trial with the best latest value of ``objective`` (a
    :class:`~dabench.records.criteria.Criterion`: its key, in its direction) and that latest
    result — a running trial's included, at the step it has reached."""
    key = objective.key
    scored = [(t, t.last_result) for t in trials if t.last_result
              and math.isfinite(t.last_result.get(key, math.nan))]  # fmt: skip
    return max(scored, key=lambda tr: objective.sign * tr[1][key]) if scored else None


def steps_left(
    trials: list, steps: int, total: int, ending: tuple[Any, bool] | None = None
) -> float:
    """Steps still to train if every unfinished trial ran to its last step."""
    running = [t for t in trials if _state(t, ending) not in ("TERMINATED", "ERROR")]
    unstarted = max(total - len(trials), 0)
    return unstarted * steps + sum(
        max(steps - (t.last_result or {}).get("step", 0), 0) for t in running
    )
