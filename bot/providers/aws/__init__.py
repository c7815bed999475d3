"""AWS: the strategies that act through boto3, and what they share.

``session.py`` (``AwsSession``: one boto3 session per account and region, its clients built once, standard
retries; made by ``bot.providers.clients.Clients.aws``), ``errors.py`` (every call's failure in words: the
resource, the IAM action, what it means), ``names.py`` (regions, ARNs, ECS names: the catalog's checks),
``iam.py`` (the least-privilege policy made from the specs' ``iam``), and one package per strategy (``ecs/``).
"""
