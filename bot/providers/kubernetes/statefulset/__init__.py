"""The ``statefulset`` strategy: ``kubectl rollout undo statefulset/...`` (``spec``, ``strategy.StatefulSetUndo``)."""
