"""Request builders shared by the preflight tests."""

from __future__ import annotations

import copy
from typing import Any


def base_request() -> dict[str, Any]:
    """A well-formed request that passes every service, practice and budget rule."""
    return copy.deepcopy(
        {
            "HyperParameterTuningJobName": "churn-xgb-2026-11",
            "HyperParameterTuningJobConfig": {
                "Strategy": "Bayesian",
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
                "ResourceLimits": {
                    "MaxNumberOfTrainingJobs": 30,
                    "MaxParallelTrainingJobs": 3,
                    "MaxRuntimeInSeconds": 86400,
                },
                "ParameterRanges": {
                    "ContinuousParameterRanges": [
                        {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5", "ScalingType": "Logarithmic"},
                        {
                            "Name": "subsample",
                            "MinValue": "0.5",
                            "MaxValue": "0.99",
                            "ScalingType": "ReverseLogarithmic",
                        },
                    ],
                    "IntegerParameterRanges": [
                        {"Name": "max_depth", "MinValue": "2", "MaxValue": "10", "ScalingType": "Linear"}
                    ],
                    "CategoricalParameterRanges": [{"Name": "tree_method", "Values": ["hist", "approx"]}],
                },
                "TrainingJobEarlyStoppingType": "Off",
            },
            "TrainingJobDefinition": {
                "StaticHyperParameters": {"objective": "binary:logistic", "num_round": "200"},
                "AlgorithmSpecification": {
                    "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-train:1",
                    "TrainingInputMode": "File",
                    "MetricDefinitions": [
                        {"Name": "validation:auc", "Regex": r"validation-auc:([0-9\.]+)"},
                        {"Name": "train:auc", "Regex": r"train-auc:([0-9\.]+)"},
                    ],
                },
                "RoleArn": "arn:aws:iam::123456789012:role/SageMakerExecutionRole",
                "InputDataConfig": [
                    {
                        "ChannelName": "train",
                        "DataSource": {
                            "S3DataSource": {
                                "S3DataType": "S3Prefix",
                                "S3Uri": "s3://bucket/datasets/churn/v1/train/",
                            }
                        },
                    }
                ],
                "OutputDataConfig": {"S3OutputPath": "s3://bucket/runs/churn/"},
                "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
                "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            },
        }
    )


_ARN_KIND = "hyper-parameter-tuning-job"


def parent_description(name: str, request: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """A DescribeHyperParameterTuningJob response for a completed parent built from ``request``."""
    req = copy.deepcopy(request or base_request())
    req["HyperParameterTuningJobName"] = name
    req.pop("WarmStartConfig", None)
    description: dict[str, Any] = {
        **req,
        "HyperParameterTuningJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:{_ARN_KIND}/{name}",
        "HyperParameterTuningJobStatus": "Completed",
        "TrainingJobStatusCounters": {
            "Completed": 30,
            "InProgress": 0,
            "RetryableError": 0,
            "NonRetryableError": 0,
            "Stopped": 0,
        },
    }
    description.pop("Tags", None)
    description.update(overrides)
    return description
