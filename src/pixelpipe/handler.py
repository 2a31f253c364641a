"""AWS Lambda adapter: ``pixelpipe.handler.lambda_handler``.

Invoked directly by S3, by EventBridge, by SNS, or by SQS (S3 -> SQS -> Lambda, the topology
with retries and a dead-letter queue). Every record of every event is processed.

* **SQS**: a partial batch response (``batchItemFailures``) names only the messages that
  failed transiently or could not be parsed; they come back after the visibility timeout and
  end in the DLQ by the queue's redrive policy. Needs ``ReportBatchItemFailures`` on the
  event source mapping.
* **Direct S3 / EventBridge / SNS**: the invocation raises if any object failed transiently,
  so Lambda's asynchronous retries (and on-failure destination) take over; objects that
  succeeded are recognised as duplicates on the retry.

Permanent failures (bad images) never fail the invocation: they are recorded in
``_failures/{key}.json``, logged and counted.

Configuration comes from environment variables (README, "Configuration"), validated on the
first invocation (with faces on: the detector too); an invalid configuration fails every
invocation with a one-line reason.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from .events import is_sqs_event, parse_event, parse_message_body
from .faces import require as require_detector
from .pipeline import Outcome, Pipeline, Result
from .settings import Settings
from .storage import StorageError, TransientError

SERVICE = "pixelpipe"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "pixelpipe")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_pipeline: Pipeline | None = None


def pipeline() -> Pipeline:
    """The process-wide pipeline, built from the environment on first use (cold start)."""
    global _pipeline
    if _pipeline is None:
        settings = Settings.from_env()  # SettingsError: one line, logged by the caller
        if settings.engine.faces:  # no detector here: refuse now, not once per object
            require_detector()
        _pipeline = Pipeline(settings)
        logger.info(
            "pixelpipe ready",
            extra={
                "processed_bucket": settings.processed_bucket,
                "sizes": list(settings.engine.block_px or settings.engine.grid_sizes),
                "format": settings.engine.format,
            },
        )
    return _pipeline


def reset() -> None:
    """Forget the cached pipeline (tests; a changed environment)."""
    global _pipeline
    _pipeline = None


@metrics.log_metrics(raise_on_empty_metrics=False)
def lambda_handler(event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    """The entry point. ``context`` may be None, as local scripts and tests (and AWS's own
    guides) call it: the logs then simply lack the Lambda fields."""
    if context is None:
        logger.clear_state()
        return _handle(event, None)
    return _handle_in_lambda(event, context)


@logger.inject_lambda_context(clear_state=True)
def _handle_in_lambda(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _handle(event, context)


def _handle(event: Mapping[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    records = event.get("Records")
    received = len(records) if isinstance(records, list) else 1
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=received)
    try:
        pipe = pipeline()
    except Exception as exc:
        logger.error("configuration error", extra={"reason": str(exc)})
        raise
    if is_sqs_event(event):
        processor = BatchProcessor(event_type=EventType.SQS)
        response = process_partial_response(
            event=dict(event),
            record_handler=lambda record: _handle_message(pipe, record),
            processor=processor,
            context=context,
        )
        return dict(response)
    refs = parse_event(event)
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    for ref in refs:
        try:
            results.append(_summary(_run(pipe, ref)))
        except StorageError as exc:  # transient or not: the other records still get done
            logger.warning("storage failure", extra={"key": ref.key, "reason": str(exc)})
            failures.append(f"s3://{ref.bucket}/{ref.key}: {exc}")
    if failures:
        raise TransientError(
            f"{len(failures)} of {len(refs)} objects failed and will be retried; first: "
            + failures[0]
        )
    return {"results": results}


def _handle_message(pipe: Pipeline, record: SQSRecord) -> None:
    """One SQS message: raising marks it failed (it returns, then goes to the DLQ)."""
    logger.set_correlation_id(record.message_id)
    for ref in parse_message_body(record.body):
        _run(pipe, ref)  # (Pipeline.handle_message, plus logging and metrics per object)


def _run(pipe: Pipeline, ref: Any) -> Result:
    result = pipe.handle(ref)
    fields = {
        "outcome": result.outcome.value,
        "bucket": ref.bucket,
        "key": ref.key,
        "detail": result.detail,
    }
    if result.outcome is Outcome.FAILED:
        logger.warning("image rejected", extra={**fields, "error_class": result.error_class})
        with single_metric(
            name="ImagesFailed", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="reason", value=result.error_class or "unknown")
    else:
        logger.info("object handled", extra={**fields, "timings_ms": dict(result.timings_ms)})
    if result.outcome is Outcome.PROCESSED:
        metrics.add_metric(name="ImagesProcessed", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BytesIn", unit=MetricUnit.Bytes, value=result.bytes_in)
        metrics.add_metric(name="BytesOut", unit=MetricUnit.Bytes, value=result.bytes_out)
        total = result.timings_ms.get("total")
        if total is not None:
            metrics.add_metric(name="ProcessingTime", unit=MetricUnit.Milliseconds, value=total)
    elif result.outcome in (Outcome.DUPLICATE, Outcome.STALE):
        metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
    elif result.outcome is Outcome.DELETED:
        metrics.add_metric(name="OutputsDeleted", unit=MetricUnit.Count, value=len(result.outputs))
    return result


def _summary(result: Result) -> dict[str, Any]:
    return {
        "bucket": result.ref.bucket,
        "key": result.ref.key,
        "outcome": result.outcome.value,
        "detail": result.detail,
        "outputs": list(result.outputs),
    }
