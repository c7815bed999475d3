"""The ``aws-alb`` strategy: an ALB listener rule's traffic moved back to the previous target group by weight."""
