"""The top layer: the ``mf`` command group and the demo orchestrator (imports every stage)."""
