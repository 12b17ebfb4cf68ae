"""What dabench offers, known without building anything: the built-in tasks, the methods with
their defaults, the model families and the trial's defaults. The one home of these declarations:
:mod:`dabench.data`, :mod:`dabench.methods.registry`, :mod:`dabench.models` and :mod:`dabench.trainable`
build on them, and ``dabench tasks`` and ``dabench methods`` list them. Imports neither torch nor
anything else heavy, so that a listing takes a fraction of a second.

* :mod:`dabench.catalog.models`: backbone and segmenter names, the model families;
* :mod:`dabench.catalog.defaults`: the trial's, the common, the setting and family defaults;
* :mod:`dabench.catalog.methods`: every built-in method's settings and defaults;
* :mod:`dabench.catalog.datasets`: the real datasets (classes, domains, layout) and their tasks;
* :mod:`dabench.catalog.tasks`: every built-in task's name, description, setting and model.
"""
