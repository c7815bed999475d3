"""Docker: the Engine API through the ``docker`` SDK (Swarm services; a Compose host's Engine later)."""
