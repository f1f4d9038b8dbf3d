"""Trial metrics in CloudWatch, as SageMaker publishes them.

SageMaker sends the metrics a training job's ``MetricDefinitions`` find in its log to CloudWatch, namespace
``/aws/sagemaker/TrainingJobs``. When the engine was given a CloudWatch client, each trial's metric points
are put there once the job has ended: under dimension ``TrainingJobName=<job>`` (what the SageMaker Python
SDK's ``TrainingJobAnalytics`` reads) and ``Host=<job>/algo-1`` (the instance, as for the instance metrics).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from amtflow.local.engine._records import TrainingJob

logger = logging.getLogger(__name__)

NAMESPACE = "/aws/sagemaker/TrainingJobs"
BATCH = 500  # metric data per PutMetricData call (the service takes up to 1000)


def publish_metrics(cloudwatch: Any, job: TrainingJob) -> None:
    """Put the training job's metric points to CloudWatch (best effort: a failure is only logged)."""
    data = []
    for dimension, value in (("TrainingJobName", job.name), ("Host", f"{job.name}/algo-1")):
        for name, point, _step, stamp in job.metrics:
            data.append(
                {
                    "MetricName": str(name),
                    "Dimensions": [{"Name": dimension, "Value": value}],
                    "Timestamp": dt.datetime.fromtimestamp(float(stamp), tz=dt.UTC),
                    "Value": float(point),
                    "Unit": "None",
                }
            )
    try:
        for first in range(0, len(data), BATCH):
            cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first : first + BATCH])
    except Exception:  # the metrics stay in the job's record (FinalMetricDataList)
        logger.warning("could not put the metrics of %s to CloudWatch", job.name, exc_info=True)
