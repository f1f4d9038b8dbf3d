"""The local twin: the real SAM template, state machine and handlers, in-process, on one machine.

The template is transformed offline with aws-sam-translator and deployed into moto's CloudFormation; moto
executes the ASL (including ``.waitForTaskToken``); Lambda invocations (from the state machine, EventBridge
rules, schedules or a direct ``Invoke``) run the handler the template names, with that function's
environment; EventBridge rules that target functions or state machines are delivered by the twin; schedules
fire on the twin's clock; SageMaker is served by the local AMT engine (or a stand-in); SNS messages are
captured as a subscriber receives them.

Usage::

    from amtflow.local.twin import Twin

    with Twin.start("/path/to/project", sagemaker=None, parameters={"Stage": "dev"}) as twin:
        twin.put_object("datasets/churn/v1/_READY", b"")   # S3 "Object Created" -> rules -> functions
        arn = twin.start_execution({"model": "churn"})      # a console-style execution
        done = twin.wait_for_executions(timeout=300)        # [Execution(status=..., output=..., ...)]
        twin.advance(3600)                                  # fire every schedule due in the next hour
        twin.notifications()                                # [Notification(subject, message, attributes)]
        twin.outputs, twin.physical_id("DataBucket")        # stack outputs, physical ids
        twin.invoke("PlanFunction", {...})                  # run one handler directly
        twin.put_events([{"Source": ..., "DetailType": ..., "Detail": {...}}])

Public API: :class:`Twin` (``start``, ``put_object``, ``start_execution``, ``wait_for_executions``,
``wait_idle``, ``is_idle``, ``pending_deliveries``, ``advance``, ``now``, ``executions``,
``notifications``, ``invocations``, ``metrics``, ``errors``, ``outputs``, ``physical_id``, ``resources``,
``function_environment``, ``invoke``, ``put_events``, ``put_event_entry``, ``client``),
the records :class:`Execution` (with :class:`ExecutionStatus`), :class:`Notification` and
:class:`Invocation`, the clock :class:`ManualClock`, the pattern matcher :func:`matches`, and the errors
:class:`TwinDeployError`, :class:`TwinTimeoutError`, :class:`FunctionError`.

Faithfulness notes: a handler exception reaches Step Functions as a Lambda function error whose
``errorType`` is the exception's class name (as the Python runtime reports it), so ASL ``Retry``/``Catch``
match class names. Asynchronous invocations (rules, schedules, ``InvocationType=Event``) are retried at
once, twice or as the function's ``EventInvokeConfig`` says, then go to its destination; their failures
are listed by ``errors()``. S3 object keys in "Object Created" events are passed as stored (not
URL-encoded). EventBridge Scheduler targets (SAM ``ScheduleV2``) receive their ``Input`` as-is; rule
schedules (SAM ``Schedule``) receive the "Scheduled Event" envelope unless the target sets ``Input``. The
state machine's own waiting (``Retry`` intervals, ``Wait`` states) runs at ``asl_time_scale`` of real time.
The services' payload size limits are enforced with their errors (:mod:`._limits`): Step
Functions' 256 KiB (``InvalidExecutionInput``, ``InvalidOutput``, ``States.DataLimitExceeded``, which
``States.ALL`` does not catch), SNS ``Publish`` (256 KiB with attributes, subject rules:
``InvalidParameter``), EventBridge ``PutEvents`` (256 KiB: ``ValidationException``), DynamoDB items
(400 KB) and Lambda ``Invoke`` (6 MB, 256 KB asynchronous: ``RequestTooLargeException``). IAM is
enforced: each function, the state machine and each rule target acts as its role (or under the function's
resource policy), and a call its policies in the template do not allow fails with the service's
access-denied error (``enforce_iam=False`` turns it off; ``twin.iam.checks()`` lists every decision).
Lambda timeouts are not enforced (an overrun is reported); account quotas (concurrency, throttling,
training instances) are not modelled. One twin per process.

The package is the twin only: its parts are the stack (``_stack``), deliveries and schedules
(``_delivery``), the functions' runtime (``_runtime``, which passes each invocation its ``AMTFLOW_*``
settings without the process environment) and every reach into moto's internals (``_moto_seam``).
Applications built on it (the demo, ``local up``'s command loop, the report, the fault suite) live in
:mod:`amtflow.local.apps`.
"""

from amtflow.local.twin._patterns import matches
from amtflow.local.twin._records import (
    EventSink,
    Execution,
    ExecutionStatus,
    FunctionError,
    Notification,
    SageMakerFactory,
    TwinTimeoutError,
)
from amtflow.local.twin._runtime import EmittedMetric, Invocation
from amtflow.local.twin._schedules import ManualClock, parse_schedule
from amtflow.local.twin._template import TwinDeployError, compile_project
from amtflow.local.twin._twin import Twin

__all__ = [
    "EmittedMetric",
    "EventSink",
    "Execution",
    "ExecutionStatus",
    "FunctionError",
    "Invocation",
    "ManualClock",
    "Notification",
    "SageMakerFactory",
    "Twin",
    "TwinDeployError",
    "TwinTimeoutError",
    "compile_project",
    "matches",
    "parse_schedule",
]


_MOVED = {
    "DemoOptions": "amtflow.local.apps.demo",
    "DemoResult": "amtflow.local.apps.demo",
    "load_examples_data": "amtflow.local.apps.demo",
    "run_demo": "amtflow.local.apps.demo",
    "Shell": "amtflow.local.apps.shell",
}


def __getattr__(name: str) -> object:
    # the applications moved out of the twin; say where to, instead of a bare AttributeError
    if name in _MOVED:
        raise AttributeError(f"{name} moved: import it from {_MOVED[name]} (the twin is only the twin)")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
