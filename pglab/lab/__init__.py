"""The live lab: everything a reader sees and drives, above the lesson's layers.

The lesson (vocab, tasks, policies, rollout, advantages, algos, exact, gradients, statistics, train) knows
nothing of this package; this package only calls it. Its modules, from the bottom up:

- :mod:`pglab.lab.meter` — every estimator's gradient variance at one shared policy θ (no widgets).
- :mod:`pglab.lab.race` — contenders trained side by side in a worker thread, metered as they go (no widgets).
- :mod:`pglab.lab.plots`, :mod:`pglab.lab.text` — the race's panels (matplotlib) and its HTML tables.
- :mod:`pglab.lab.controls` — the sliders, dropdowns and boxes, with their checks and hover help.
- :mod:`pglab.lab.messages` — every word the page shows, one catalogue per language (``en``, ``zh``).
- :mod:`pglab.lab.app` — the page, :class:`~pglab.lab.app.Lab`, served by Voilà (``make app``;
  ``Lab(lang="zh")`` and ``make app-zh`` in Chinese).
- :mod:`pglab.lab.widgets` — the small widgets the chapters embed.

The documented short names still work: ``pg.app.Lab``, ``pg.race``, ``pg.meter`` and ``pg.chapter_widgets`` are
these modules (``pglab/__init__.py`` resolves them on first use, so ``import pglab`` pays for no widget library).
"""
