/** One job: its actions, facts, task graph, task table and the open log. */
import type { Job } from '@cellpipe/schema';
import * as React from 'react';
import { buildGraph } from '../../dag/graph.js';
import { TaskGraph } from '../TaskGraph.js';
import { elapsedMs, formatDuration, isJobFinished, taskDurationMs } from '../../jobs/state.js';
import type { JobsViewModel } from '../../monitor/jobsViewModel.js';
import { useTrans } from '../../translation.js';
import { LogView } from './LogView.js';
import { TaskTable } from './TaskTable.js';
import { dateTime, MONITOR_CLASS, StatePill, stateLabel } from './format.js';

const CLASS = MONITOR_CLASS;

function JobActions(props: { job: Job; model: JobsViewModel }): React.ReactElement {
  const trans = useTrans();
  const { job, model } = props;
  const finished = isJobFinished(job.state);
  const hasFailed = job.tasks.some((t) => t.state === 'failed' || t.state === 'cancelled' || t.state === 'skipped');
  const changes = model.changes;
  const canRerunChanged = finished && Boolean(changes?.plan) && !model.busy;
  return (
    <div className={`${CLASS}-actions`}>
      <button
        type="button"
        className="jp-mod-styled jp-mod-warn"
        disabled={finished || model.busy}
        title={finished ? trans.__('The job has finished') : trans.__('Stop every task of this job')}
        onClick={() => void model.run(() => model.actions.cancel(job.id))}
      >
        {trans.__('Cancel')}
      </button>
      <button
        type="button"
        className="jp-mod-styled jp-mod-accept"
        disabled={!canRerunChanged}
        title={
          !finished
            ? trans.__('Available once the job has finished')
            : changes?.plan
              ? trans.__('Run the notebook as it is now, reusing the tasks that did not change')
              : trans.__('The notebook this job ran is not open or cannot be read')
        }
        onClick={() => void model.run(() => model.actions.rerunWithChanges(job.id))}
      >
        {trans.__('Re-run with my changes…')}
      </button>
      <button
        type="button"
        className="jp-mod-styled"
        disabled={!finished || model.busy}
        title={trans.__('Run exactly what this job ran again (the code and parameters it was submitted with)')}
        onClick={() => void model.run(() => model.actions.rerun(job.id, 'all'))}
      >
        {trans.__('Re-run as submitted')}
      </button>
      <button
        type="button"
        className="jp-mod-styled"
        disabled={!finished || !hasFailed || model.busy}
        title={trans.__('Run the failed, cancelled and skipped tasks again as submitted, reusing what succeeded')}
        onClick={() => void model.run(() => model.actions.rerun(job.id, 'failed'))}
      >
        {trans.__('Re-run failed')}
      </button>
    </div>
  );
}

/** Says when the notebook changed since the job ran, and what a re-run with the changes would do. */
function ChangeBanner(props: { model: JobsViewModel }): React.ReactElement | null {
  const trans = useTrans();
  const changes = props.model.changes;
  if (!changes) return null;
  if (changes.error) {
    return (
      <div className={`${CLASS}-changes jp-mod-warn`} role="status">
        {trans.__('%1 cannot be compared with this job: %2', changes.source, changes.error)}
      </div>
    );
  }
  const plan = changes.plan;
  if (!plan || plan.unchanged) return null;
  const runs = plan.tasks.filter((t) => !t.reuse);
  return (
    <div className={`${CLASS}-changes`} role="status" data-changed="true">
      {trans.__(
        '%1 changed since this job ran: a re-run with your changes runs %2 and reuses %3.',
        changes.source,
        trans._n('%1 task', '%1 tasks', runs.length),
        trans._n('%1 task', '%1 tasks', plan.tasks.length - runs.length),
      )}
    </div>
  );
}

/** Warnings the tasks' runs reported (an input a task changed in place although it was read-only...). */
function JobWarnings(props: { job: Job }): React.ReactElement | null {
  const trans = useTrans();
  const warnings = props.job.warnings ?? [];
  if (!warnings.length) return null;
  return (
    <div className={`${CLASS}-warnings`} role="status" aria-label={trans.__('Warnings')}>
      <strong>{trans._n('%1 warning', '%1 warnings', warnings.length)}</strong>
      <ul>
        {warnings.map((w, i) => (
          <li key={i}>
            {trans.__('task %1', w.task)}
            {w.cell !== undefined ? `, ${trans.__('cell %1', w.cell)}` : ''}: {w.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

function JobFacts(props: { job: Job; model: JobsViewModel; now: number }): React.ReactElement {
  const trans = useTrans();
  const { job, model, now } = props;
  return (
    <dl className={`${CLASS}-facts`}>
      <dt>{trans.__('Job')}</dt>
      <dd>{job.id}</dd>
      <dt>{trans.__('Owner')}</dt>
      <dd>{job.owner}</dd>
      <dt>{trans.__('Executor')}</dt>
      <dd>{job.executor}</dd>
      <dt>{trans.__('Created')}</dt>
      <dd>{dateTime(job.createdAt)}</dd>
      <dt>{trans.__('Started')}</dt>
      <dd>{dateTime(job.startedAt)}</dd>
      <dt>{trans.__('Finished')}</dt>
      <dd>{dateTime(job.finishedAt)}</dd>
      <dt>{trans.__('Duration')}</dt>
      <dd>{formatDuration(elapsedMs(job.startedAt, job.finishedAt, now))}</dd>
      {job.pipelineRef ? (
        <>
          <dt>{trans.__('Pipeline')}</dt>
          <dd title={job.pipelineRef.hash}>
            {job.pipelineRef.version !== undefined
              ? trans.__('%1 version %2', job.pipelineRef.name, job.pipelineRef.version)
              : trans.__('%1 (unsaved, %2)', job.pipelineRef.name, job.pipelineRef.hash.slice(0, 12))}
          </dd>
        </>
      ) : null}
      {job.scheduleId ? (
        <>
          <dt>{trans.__('Started by')}</dt>
          <dd className={`${CLASS}-scheduled`}>
            {trans.__('schedule %1, for the slot at %2', job.scheduleId, dateTime(job.scheduleSlot))}
          </dd>
        </>
      ) : null}
      {job.parentJobId ? (
        <>
          <dt>{trans.__('Re-run of')}</dt>
          <dd>
            <button type="button" className={`${CLASS}-link`} onClick={() => model.select(job.parentJobId ?? null)}>
              {job.parentJobId}
            </button>
          </dd>
        </>
      ) : null}
      {Object.keys(job.parameters).length > 0 ? (
        <>
          <dt>{trans.__('Parameters')}</dt>
          <dd>{JSON.stringify(job.parameters)}</dd>
        </>
      ) : null}
    </dl>
  );
}

export function JobDetail(props: { job: Job; model: JobsViewModel }): React.ReactElement {
  const trans = useTrans();
  const { job, model } = props;
  const now = Date.now();
  const specs = new Map(job.pipeline.spec.tasks.map((t) => [t.name, t]));
  const graph = buildGraph(
    job.tasks.map((t) => ({
      name: t.name,
      dependsOn: t.dependsOn,
      inputsFrom: specs.get(t.name)?.inputsFrom,
      state: t.state,
      detail: t.reused ? trans.__('reused') : formatDuration(taskDurationMs(t, now)) || undefined,
    })),
  );
  const log = model.log && model.log.jobId === job.id ? model.log : null;
  return (
    <div className={`${CLASS}-job`}>
      <div className={`${CLASS}-jobHeader`}>
        <h2>
          {job.name} <StatePill state={job.state} trans={trans} />
        </h2>
        <JobActions job={job} model={model} />
      </div>
      <ChangeBanner model={model} />
      <JobFacts job={job} model={model} now={now} />
      <JobWarnings job={job} />
      {job.error ? (
        <div className={`${CLASS}-error`} role="alert">
          {job.error}
        </div>
      ) : null}
      <TaskGraph
        graph={graph}
        direction="LR"
        label={trans.__('Tasks of job %1', job.id)}
        selected={model.log?.jobId === job.id ? model.log.task : undefined}
        onActivate={(node) => model.showLogs(job.id, node.id)}
        stateText={(s) => stateLabel(s, trans)}
      />
      <TaskTable job={job} model={model} now={now} />
      {model.sections.items.map((s) => (
        <section key={s.id} data-section={s.id} className={`${CLASS}-section`}>
          <s.component job={job} />
        </section>
      ))}
      {log ? <LogView log={log} onClose={() => model.closeLog()} /> : null}
    </div>
  );
}
