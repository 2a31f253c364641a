"""The embedded local stack: an S3 + SQS endpoint (moto's server) in-process, the buckets, an
event queue with a dead-letter queue, S3 -> SQS notifications, and queue workers.

Everything binds to loopback unless told otherwise. Data lives in memory: nothing survives
a restart (README says so).
"""

from __future__ import annotations

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9700
SOURCE_BUCKET = "source"
PROCESSED_BUCKET = "processed"
QUEUE_NAME = "pixelpipe-events"
DLQ_NAME = "pixelpipe-dlq"
MAX_RECEIVE_COUNT = 3  # deliveries before a message moves to the DLQ
REGION = "us-east-1"


def default_endpoint(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    return f"http://{host}:{port}"
