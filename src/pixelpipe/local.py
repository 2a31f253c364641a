"""The embedded local stack: an S3 + SQS endpoint (moto's server) in-process, the buckets, an
event queue with a dead-letter queue, S3 -> SQS notifications, and queue workers.

Everything binds to loopback unless told otherwise. Data lives in memory: nothing survives
a restart (README says so).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from .settings import EngineSettings, Settings
from .shutdown import stop_event

if TYPE_CHECKING:
    import multiprocessing.process  # at run time only when workers start: start-up time

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9700
SOURCE_BUCKET = "source"
PROCESSED_BUCKET = "processed"
QUEUE_NAME = "pixelpipe-events"
DLQ_NAME = "pixelpipe-dlq"
MAX_RECEIVE_COUNT = 3  # deliveries before a message moves to the DLQ
REGION = "us-east-1"


log = logging.getLogger("pixelpipe.local")


LOCAL_KEY = "pixelpipe-local"  # the dummy access key and secret the local stack suggests


def ensure_credentials() -> None:
    """The embedded endpoint accepts any credentials; boto3 insists there be some."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", LOCAL_KEY)
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", LOCAL_KEY)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)


def clients(endpoint: str) -> tuple[S3Client, SQSClient]:
    """(s3, sqs) clients for the stack at ``endpoint`` (its region; dummy credentials unless
    the environment has some), from :mod:`pixelpipe.clients`."""
    from .clients import s3_client, sqs_client  # here: `pixelpipe pixelate` never loads boto3

    ensure_credentials()
    return s3_client(endpoint, REGION), sqs_client(endpoint, REGION)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # As the server itself binds: a port whose last connections linger in TIME_WAIT
        # (right after a previous `pixelpipe up` stopped) is free to use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class LocalStack:
    """The embedded S3 + SQS endpoint, buckets, queues, notifications and workers."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    source_bucket: str = SOURCE_BUCKET
    processed_bucket: str = PROCESSED_BUCKET
    engine: EngineSettings = field(default_factory=EngineSettings)
    visibility_timeout: int = 60
    queue_url: str = ""
    dlq_url: str = ""
    _server: Any = None
    _workers: list[multiprocessing.process.BaseProcess] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def settings(self) -> Settings:
        return Settings(
            processed_bucket=self.processed_bucket,
            source_bucket=self.source_bucket,
            engine=self.engine,
            endpoint_url=self.endpoint,
        )

    def start(self) -> LocalStack:
        """Start the endpoint and create buckets, queues and the S3 -> SQS notification."""
        try:
            from moto.server import ThreadedMotoServer  # heavy: only when the stack starts
        except ImportError as exc:
            from .errors import PixelpipeError

            raise PixelpipeError(
                f"the local stack needs the 'local' extra ({exc.name} not installed): "
                "pip install 'pixelpipe[local]'"
            ) from None

        _ = self.settings  # validate (e.g. source == processed) before starting anything
        if not port_is_free(self.host, self.port):
            raise OSError(f"port {self.port} on {self.host} is in use; pass --port")
        ensure_credentials()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        from . import queue, storage

        s3, sqs = clients(self.endpoint)
        self.dlq_url = queue.create(sqs, DLQ_NAME)
        dlq_arn = queue.arn(sqs, self.dlq_url)
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
        self.queue_url = queue.create(
            sqs,
            QUEUE_NAME,
            {
                "VisibilityTimeout": str(self.visibility_timeout),
                "RedrivePolicy": json.dumps(redrive),
            },
        )
        # The queues first, then the buckets (the processed one before the source, so the
        # source bucket's existence means the stack is ready to store outputs), then the
        # notification. A client can put an object as soon as the source bucket exists,
        # before the notification is wired; such an object has no event. So once it is
        # wired, every object already there gets one (the pipeline skips what is done).
        self._create_bucket(s3, self.processed_bucket)
        self._create_bucket(s3, self.source_bucket)
        storage.notify_queue(s3, self.source_bucket, queue.arn(sqs, self.queue_url))
        self.enqueue_existing(s3, sqs)
        return self

    def _create_bucket(self, s3: S3Client, bucket: str) -> None:
        from .storage import create_bucket

        create_bucket(s3, bucket)

    def enqueue_existing(self, s3: S3Client, sqs: SQSClient) -> int:
        """An S3 event message for every object in the source bucket; how many were sent."""
        from .queue import send
        from .storage import list_objects

        sent = 0
        for obj in list_objects(s3, self.source_bucket):
            record = {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {
                        "name": self.source_bucket,
                        "arn": f"arn:aws:s3:::{self.source_bucket}",
                    },
                    "object": {
                        "key": quote_plus(obj.key, safe=""),
                        "size": obj.size,
                        "eTag": obj.etag,
                    },
                },
            }
            send(sqs, self.queue_url, json.dumps({"Records": [record]}))
            sent += 1
        return sent

    def start_workers(self, count: int, *, concurrency: int = 1, wait_seconds: int = 2) -> None:
        """``count`` worker processes (spawned: the parent runs server threads)."""
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        for index in range(count):
            proc = ctx.Process(
                target=run_worker_process,
                args=(self.settings, self.queue_url, concurrency, wait_seconds, index, count),
                name=f"pixelpipe-worker-{index}",
                daemon=False,
            )
            proc.start()
            self._workers.append(proc)

    def stop(self, timeout: float = 30.0) -> None:
        """Workers finish the message in hand (SIGTERM), then the endpoint stops."""
        for proc in self._workers:
            if proc.is_alive() and proc.pid is not None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self._workers:
            proc.join(timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self._workers.clear()
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def workers(self) -> list[multiprocessing.process.BaseProcess]:
        return list(self._workers)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_worker_process(
    settings: Settings,
    queue_url: str,
    concurrency: int,
    wait_seconds: int,
    index: int,
    processes: int = 1,
) -> None:
    """Entry point of a worker process: poll until SIGTERM or SIGINT, then finish and exit 0.
    The ``processes`` worker processes of the stack share the machine's memory budget."""
    from .pipeline import Pipeline
    from .storage import Storage
    from .worker import Worker

    logging.basicConfig(
        level=logging.INFO, format=f"worker-{index} %(levelname)s %(message)s", force=True
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stop = stop_event()
    _, sqs = clients(settings.endpoint_url or "")
    pipe = Pipeline(settings, Storage(settings.endpoint_url))
    Worker(
        pipe,
        sqs,
        queue_url,
        concurrency=concurrency,
        wait_seconds=wait_seconds,
        memory_share=processes * concurrency,
    ).run(stop)
