"""The ``swarm`` strategy: a Docker Swarm service back to its previous spec, or to a spec the bot recorded."""
