"""Published numbers beside dabench's: a spec's ``published:`` block checked, and the
leaderboard's table of them on a hand-made board (dabench's cell / the published number, and the
averages only where dabench has every task)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dabench.engine import spec as specs
from dabench.reports import published
from dabench.reports.leaderboard import Leaderboard


def board(rows: list[tuple[str, str, list[float]]]) -> Leaderboard:
    """Main-table cells (re-trained with fresh seeds) of ``(task, method, values)``."""
    cells = [{"setting": "closed", "task": task, "method": method, "criterion": "bnm",
              "primary": True, "values": values, "mean": float(np.mean(values)),
              "half": 1.0 if len(values) > 1 else math.nan, "n": len(values), "rerun": True,
              "negative_transfer": False, "failures": []}
             for task, method, values in rows]  # fmt: skip
    return Leaderboard(pd.DataFrame(cells), pd.DataFrame(), pd.DataFrame())


BLOCK = {
    "source": "a README",
    "protocol": "The reference picks its epoch on the target test set.",
    "tasks": {"office31/A2W": {"source_only": 75.8, "dann": 91.4},
              "office31/D2W": {"source_only": 95.5, "dann": 97.9}},
    "average": {"source_only": 85.65, "dann": 94.65},
}  # fmt: skip


def test_the_table_puts_dabench_beside_the_published_number_per_task_and_on_average():
    numbers = published.from_mapping(BLOCK)
    assert numbers.methods == ["source_only", "dann"]
    one = published.table(board([("office31/A2W", "dann", [80.0, 82.0, 84.0]),
                                 ("office31/A2W", "source_only", [70.0]),
                                 ("office31/D2W", "source_only", [90.0, 91.0])]), numbers)  # fmt: skip
    assert one.to_dict("records") == [
        {"task": "office31/A2W", "source_only": "70.0 (1 seed) / 75.8",
         "dann": "82.0 ± 1.0 / 91.4"},
        {"task": "office31/D2W", "source_only": "90.5 ± 1.0 / 95.5", "dann": "– / 97.9"},
        {"task": "average (2 tasks)", "source_only": "80.2 / 85.7",
         "dann": "– (1 of 2 tasks) / 94.7"},
    ]  # fmt: skip
    both = published.table(board([("office31/A2W", "dann", [80.0, 82.0]),
                                  ("office31/D2W", "dann", [96.0, 98.0])]), numbers)  # fmt: skip
    assert both["dann"].tolist() == ["81.0 ± 1.0 / 91.4", "97.0 ± 1.0 / 97.9", "89.0 / 94.7"]
    assert list(both.columns) == ["task", "dann"]  # source-only is not on this board
    text = "\n".join(published.section(board([("office31/A2W", "dann", [80.0])]), [numbers]))
    assert text.startswith("## Published numbers")
    assert "Published: a README." in text and "**Protocol.** The reference picks its epoch" in text
    assert published.section(board([("moons/rot40", "dann", [80.0])]), [numbers]) == []
    assert published.section(board([("office31/A2W", "dann", [80.0])]), []) == []


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({**BLOCK, "tasks": {"office31/A2X": {"dann": 1.0}}}, "published: unknown task"),
        ({**BLOCK, "average": {"dan": 1.0}}, r"published: unknown method\(s\) \['dan'\]"),
        ({**BLOCK, "tasks": {"office31/A2W": {"dann": 101}}}, "published must be a mapping"),
        ({k: v for k, v in BLOCK.items() if k != "protocol"}, "published must be a mapping"),
    ],
)
def test_a_bad_published_block_is_refused_with_the_spec(tmp_path, block, message):
    import yaml

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"tasks": ["moons/rot40"], "methods": ["dann"],
                                    "published": block}))  # fmt: skip
    with pytest.raises(ValueError, match=message):
        spec = specs.load_spec(str(path))
        specs.make_plan(spec, "x", "sqlite:///x.db", str(tmp_path), None)


def test_the_leaderboard_spec_carries_the_adda_papers_and_the_references_digits_numbers():
    adda, reference = specs.published_numbers(specs.load_spec("leaderboard"))
    assert adda.tasks["digits/mnist2uci"] == {"source_only": 75.2, "dann": 77.1, "adda": 89.4}
    assert adda.tasks["digits/uci2mnist"]["adda"] == 90.1 and adda.average == {}
    assert reference.tasks["digits/mnist2uci"] == {"source_only": 82.1, "dann": 91.7,
                                                   "adda": 94.5, "cdan": 96.0, "bsp": 95.7}  # fmt: skip
    assert reference.tasks["digits/uci2mnist"] == {"source_only": 74.6, "dann": 95.2,
                                                   "adda": 98.3, "cdan": 97.7, "bsp": 97.8}  # fmt: skip
    text = "\n".join(published.section(board([("digits/mnist2uci", "cdan", [93.0, 94.0])]),
                                       [adda, reference]))  # fmt: skip
    assert text.count("## Published numbers") == 1 and text.count("**Protocol.**") == 1  # no cdan
    assert "93.5 ± 1.0 / 96.0" in text
