"""The ``kubernetes`` strategy: ``kubectl rollout undo`` of a Deployment (``spec``, ``strategy.KubernetesUndo``)."""
