"""The adaptation settings (a module without heavy imports, so that the command line can list them
without loading torch)."""

SETTINGS = ("closed", "open_set", "partial", "segmentation")
"""``closed``: same classes in both domains. ``open_set``: the target also has classes the source
lacks, all labelled "unknown" (the last class). ``partial``: the target has a subset of the source
classes (labels keep the source's numbering). ``segmentation``: per-pixel labels."""
