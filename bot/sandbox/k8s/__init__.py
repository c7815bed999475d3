"""Kubernetes API simulator: an object store with a deployment controller and pod simulation, served over HTTP
so that real kubectl and the official python client run against it unchanged."""

from .api import make_api
from .cluster import Cluster
from .kubeconfig import write_kubeconfig

__all__ = ["Cluster", "make_api", "write_kubeconfig"]
