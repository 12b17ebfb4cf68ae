"""Every ``--help`` shows the default of every flag that has one: the parser's formatter adds it
where the help text does not state it."""

import argparse
from dataclasses import MISSING

from dabench.catalog.defaults import LOOP_DEFAULTS
from dabench.cli.parser import build_parser, has_default
from dabench.engine.options import (
    BenchmarkSpec,
    RerunOptions,
    SweepOptions,
    declarations,
    default_of,
)


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Command → its parser."""
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def flag_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help of ``action`` as ``--help`` prints it, on one line."""
    return " ".join(parser._get_formatter()._expand_help(action).split())


def test_every_help_shows_every_default():
    parser = build_parser()
    missing = []
    for name, sub in {"": parser, **subparsers(parser)}.items():
        page = " ".join(sub.format_help().split())
        for action in sub._actions:
            if not action.option_strings or not has_default(action):
                continue
            shown = flag_help(sub, action)
            if f"default: {action.default}" not in shown or shown not in page:
                missing.append(f"dabench {name} {action.option_strings[-1]}: {shown!r}")
    assert not missing, "\n".join(missing)


def test_the_flags_that_set_a_declared_option_only_when_given_show_its_default():
    """``sweep``'s and ``benchmark``'s flags default to None (``--resume`` or a spec may set the
    value), ``train``'s too (the trial's defaults apply): their help states the default that
    applies."""
    parser = build_parser()
    checked = 0
    for command, cls in (("sweep", SweepOptions), ("rerun", RerunOptions),
                         ("benchmark", SweepOptions), ("benchmark", BenchmarkSpec)):  # fmt: skip
        sub = subparsers(parser)[command]
        flags = {flag: action for action in sub._actions for flag in action.option_strings}
        for name, field in declarations(cls).items():
            unset = default_of(field) is MISSING or default_of(field) in (None, {}, [], ())
            if not field.metadata.get("flag") or (unset and not field.metadata["shown_default"]):
                continue
            keys = {name, field.metadata["spec"] or name}
            action = next((flags[f"--{k.replace('_', '-')}"] for k in keys
                           if f"--{k.replace('_', '-')}" in flags), None)  # fmt: skip
            if action is not None:
                checked += 1
                assert "default:" in flag_help(sub, action), (command, name)
    assert checked > 30
    train = subparsers(parser)["train"]
    for action in train._actions:
        if action.dest in ("seed", "steps", "eval_every", "device"):
            assert action.default is None
            assert f"default: {LOOP_DEFAULTS[action.dest]}" in flag_help(train, action)


def test_a_flag_without_default_text_gets_it_and_one_that_has_it_is_left_alone():
    parser = build_parser()
    demo, ui = subparsers(parser)["demo"], subparsers(parser)["ui"]
    steps = next(a for a in demo._actions if a.dest == "steps")
    assert steps.help == "SGD steps" and flag_help(demo, steps) == "SGD steps (default: 2000)"
    analyze = subparsers(parser)["analyze"]
    storage = next(a for a in analyze._actions if a.dest == "storage")
    assert flag_help(analyze, storage).count("default") == 1
    port = next(a for a in ui._actions if a.dest == "port")
    assert flag_help(ui, port) == "the UI's port (default: 5000)"
