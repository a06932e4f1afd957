"""The executor of every job: Dagster's own, with the run-level duties of one writer at a time.

Whatever starts a run (the UI, the daemon's sensors and schedule, ``cov-pipeline refresh``,
``dagster dev``, ``dagster job execute``), its executor is where the run worker begins, before
the first step, and ends, after the last. Wrapping Dagster's in-process and multiprocess
executors there gives each run, before any step runs:

1. its worker recorded in the run tag ``cov/worker``, so a run whose process dies is found
   and marked failed (``cov_pipeline/run_health.py``);
2. its preconditions checked, when it writes the warehouse: the export folder writable when it
   publishes, the PostgreSQL roles it grants to (analyst, public) present; one message, and
   nothing written, if not;
3. the warehouse lock (``cov_pipeline/warehouse_lock.py``), waited for with an engine event
   naming the run that holds it, and released when the run ends however it ends.

Under the multiprocess executor (PostgreSQL only) the run worker holds the lock while its step
processes write. A run with no step in the ``warehouse`` pool (the Fingertips download) takes
neither the lock nor the checks. ``execute_in_process`` (``dagster.materialize`` in the tests,
the benchmark) uses Dagster's own executor, on the private warehouses those set up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from dagster import AssetKey, ExecutorDefinition
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig
from dagster._core.executor.base import Executor
from dagster._utils.interrupts import pop_captured_interrupt

from cov_pipeline import settings
from cov_pipeline.exports import export_dir_problem
from cov_pipeline.run_health import WORKER_TAG, Worker
from cov_pipeline.warehouse import Warehouse, WarehouseError
from cov_pipeline.warehouse_lock import WarehouseLock, holder_description

WAREHOUSE_POOL = "warehouse"
EXPORTS_KEY = AssetKey(["exports", "analyst_exports"])


class RunPreconditionFailed(WarehouseError):
    """Something the run needs at its end is missing; found before anything was written."""


def run_preconditions(warehouse_url: str, publishes: bool) -> list[str]:
    """What stops a run that writes the warehouse from finishing: checked before it starts."""
    problems = []
    if publishes:
        problems.append(export_dir_problem(Path(settings.export_dir())))
    warehouse = Warehouse(warehouse_url)
    try:
        problems.extend(warehouse.role_problems())
    finally:
        warehouse.dispose()
    return [p for p in problems if p]


class OneWriterExecutor(Executor):
    """Runs the inner executor's steps once the run holds the warehouse (see the module doc)."""

    def __init__(self, inner: Executor):
        self.inner = inner

    @property
    def retries(self) -> RetryMode:
        return self.inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self.inner.step_dependency_config

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        run = plan_context.dagster_run
        plan_context.instance.add_run_tags(run.run_id, {WORKER_TAG: Worker.this_process().tag()})
        steps = [execution_plan.get_step_by_key(k) for k in execution_plan.step_keys_to_execute]
        if not any(step.pool == WAREHOUSE_POOL for step in steps):
            yield from self.inner.execute(plan_context, execution_plan)
            return

        publishes = any(
            output.properties.asset_key == EXPORTS_KEY
            for step in steps
            for output in step.step_outputs
        )
        # read when the run starts, as the warehouse resource reads COV_WAREHOUSE_URL
        warehouse_url = settings.warehouse_url()
        problems = run_preconditions(warehouse_url, publishes)
        if problems:
            raise RunPreconditionFailed(
                "the run cannot finish, so it writes nothing: " + "; ".join(problems)
            )

        lock = WarehouseLock(warehouse_url)
        holder = holder_description(run.run_id, run.job_name)
        try:
            for message in lock.acquire(holder, settings.warehouse_wait_seconds()):
                if pop_captured_interrupt():  # terminated from the UI, or Ctrl-C, while waiting
                    raise DagsterExecutionInterruptedError(
                        "interrupted while waiting for the warehouse: nothing was written"
                    )
                if message:
                    yield DagsterEvent.engine_event(plan_context, message, EngineEventData())
            yield DagsterEvent.engine_event(
                plan_context,
                f"{holder} holds the warehouse {lock.warehouse.display_name}",
                EngineEventData(),
            )
            yield from self.inner.execute(plan_context, execution_plan)
        finally:
            lock.release()


def one_writer(base: ExecutorDefinition) -> ExecutorDefinition:
    """``base`` (Dagster's in-process or multiprocess executor, same name and config) with the
    run-level duties of :class:`OneWriterExecutor`."""
    create = base.executor_creation_fn

    def create_executor(init_context) -> Executor:
        return OneWriterExecutor(create(init_context))

    return ExecutorDefinition(
        name=base.name,
        config_schema=base.config_schema,
        requirements=base.get_requirements,
        executor_creation_fn=create_executor,
        description=base.description,
    )
