"""AWS: the strategies that act through boto3 (ECS, later). Only planned ones so far."""
