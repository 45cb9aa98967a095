"""The cleaning steps: one module per step, one class per module, one call signature.

``mf clean`` runs the steps the config's ``steps`` list names, in that order
(:mod:`cleaning.pipeline`); leaving one out skips it. Every step is a
:class:`~cleaning.steps.base.Step`: ``run(state, ctx) -> StepReport`` on the run's typed
:class:`~cleaning.steps.state.CleaningState`. The registry (name -> class) is
:data:`cleaning.steps.registry.STEPS`; per-file work goes through
one executor (:mod:`movingfashion.executors`, ``StepContext.map``).
"""
