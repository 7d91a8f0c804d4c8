"""Adapters to the outside world (DynamoDB, SQS, KMS, Stripe, ...), each behind a small interface.

Heavy libraries (boto3, stripe, the Encryption SDK) are imported inside the functions that need
them, never at module import, to keep the API Lambda's cold start short.
"""
