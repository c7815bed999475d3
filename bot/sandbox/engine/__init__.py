"""A Docker Engine API simulator in swarm mode (services, tasks, nodes), for the ``swarm`` strategy.

``model.py`` keeps the services and computes their tasks and ``UpdateStatus`` from the world's SimClock;
``api.py`` answers the Engine API over HTTP (the version the ``docker`` SDK and CLI negotiate).
"""
