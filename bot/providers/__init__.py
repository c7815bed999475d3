"""Provider code: one package per platform a strategy acts on (Kubernetes now; AWS and SSH in their own issues)."""
