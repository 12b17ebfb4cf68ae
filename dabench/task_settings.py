"""The adaptation settings a task can have, and the headline target metric of each (a module
without heavy imports, so that the command line can list them without loading torch)."""

SETTINGS = ("closed", "open_set", "partial", "segmentation")
"""``closed``: same classes in both domains. ``open_set``: the target also has classes the source
lacks, all labelled "unknown" (the last class). ``partial``: the target has a subset of the source
classes (labels keep the source's numbering). ``segmentation``: per-pixel labels."""

HEADLINE_METRIC = {"closed": "acc", "partial": "acc", "open_set": "h_score",
                   "segmentation": "miou"}  # fmt: skip
"""The headline target metric of each setting: a leaderboard cell reports
``target_test_<metric>``; the oracle selects on ``target_val_<metric>``."""

TARGET_METRICS = {"closed": ("acc",), "partial": ("acc",),
                  "open_set": ("h_score", "os", "os_star", "unk"),
                  "segmentation": ("miou", "pixel_acc")}  # fmt: skip
"""Every target metric an evaluation reports per setting, as ``target_val_<m>`` and
``target_test_<m>`` (:func:`dabench.trainable.evaluate`)."""
