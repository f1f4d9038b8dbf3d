"""boto3-backed implementations of the application's ports.

Every adapter takes an injected client (built by :mod:`amtflow.clients` in production, by moto or a
``Stubber`` in tests), translates ``ClientError`` codes into :mod:`amtflow.errors` types and AWS status
strings into enums.
"""

from amtflow.adapters._datasets import S3DatasetReader
from amtflow.adapters._deployment import (
    CloudWatchRollbackAlarms,
    DynamoDeploymentTable,
    SageMakerDeployment,
    endpoint_state,
)
from amtflow.adapters._errors import aws_call, translate
from amtflow.adapters._evaluation import (
    DynamoEvaluationTokens,
    SageMakerModelRegistry,
    SageMakerRunEvidence,
    SageMakerTrainingJobs,
)
from amtflow.adapters._lineage import DynamoDBLineageStore
from amtflow.adapters._logs import TRAINING_LOG_GROUP, CloudWatchTrialLogs
from amtflow.adapters._profile_store import S3ProfileStore
from amtflow.adapters._profiles import ProfileSpec, S3DatasetCatalog, StoreProfileCatalog
from amtflow.adapters._registry import ensure_model_package_group, register_model_package
from amtflow.adapters._sagemaker import SageMakerTuning, strip_quotes, training_summary, tuning_description
from amtflow.adapters._sns import (
    EmailSubscription,
    RetiredSubscriptions,
    SnsEmailSubscriptions,
    SnsNotifier,
    sns_message,
    stack_output,
)
from amtflow.adapters._stall_records import DynamoStallRecords, stall_key
from amtflow.adapters._state_table import DynamoStateTable, lock_key, parked_key, token_key
from amtflow.adapters._status_sources import CloudWatchAlarms, models_in_table
from amtflow.adapters._stepfunctions import (
    StepFunctionsCallbacks,
    StepFunctionsExecutions,
    StepFunctionsHolderProbe,
)
from amtflow.adapters._stopper import SageMakerJobStopper

__all__ = [
    "TRAINING_LOG_GROUP",
    "CloudWatchAlarms",
    "CloudWatchRollbackAlarms",
    "CloudWatchTrialLogs",
    "DynamoDBLineageStore",
    "DynamoDeploymentTable",
    "DynamoEvaluationTokens",
    "DynamoStallRecords",
    "DynamoStateTable",
    "EmailSubscription",
    "ProfileSpec",
    "RetiredSubscriptions",
    "S3DatasetCatalog",
    "S3DatasetReader",
    "S3ProfileStore",
    "SageMakerDeployment",
    "SageMakerJobStopper",
    "SageMakerModelRegistry",
    "SageMakerRunEvidence",
    "SageMakerTrainingJobs",
    "SageMakerTuning",
    "SnsEmailSubscriptions",
    "SnsNotifier",
    "StepFunctionsCallbacks",
    "StepFunctionsExecutions",
    "StepFunctionsHolderProbe",
    "StoreProfileCatalog",
    "aws_call",
    "endpoint_state",
    "ensure_model_package_group",
    "lock_key",
    "models_in_table",
    "parked_key",
    "register_model_package",
    "sns_message",
    "stack_output",
    "stall_key",
    "strip_quotes",
    "token_key",
    "training_summary",
    "translate",
    "tuning_description",
]
