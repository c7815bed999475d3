"""Kubernetes: the API access, GitOps, backup Jobs and one package per workload kind's strategy."""
