"""The ``config`` strategy: restore a recorded version of a ConfigMap (and Secrets), then ``rollout restart``."""
