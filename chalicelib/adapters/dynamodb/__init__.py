"""DynamoDB through PynamoDB: the models (one definition for tests, local stack and deployment)
and the repositories built on them."""
