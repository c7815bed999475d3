"""``vm-release``: VMs rolled back host by host, Capistrano style (``releases/<version>``, a ``current`` symlink,
a systemd unit), each host drained from its load balancer first and put back once its health URL is UP."""
