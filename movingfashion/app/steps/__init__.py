"""The demo's steps, one module per stage, run in pipeline order by :mod:`movingfashion.app.demo`."""
