"""``aws-ecs``: an ECS service rolled back to an earlier task-definition revision of its family, waited on until
its deployment is steady (or ECS's circuit breaker, or the bot's deadline, stops it)."""
