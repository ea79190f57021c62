/** The task table of a job: one row per task, with its waiting reason, error and artifacts under it. */
import type { Job, TaskRun } from '@cellpipe/schema';
import * as React from 'react';
import { formatDuration, isTaskFinished, taskDurationMs } from '../../jobs/state.js';
import type { JobsViewModel } from '../../monitor/jobsViewModel.js';
import { useTrans } from '../../translation.js';
import {
  clock,
  errorText,
  MONITOR_CLASS,
  resourcesText,
  StatePill,
  stripAnsi,
  taskRan,
  usageText,
  usageTitle,
  waitingText,
} from './format.js';

const CLASS = MONITOR_CLASS;
const COLUMNS = 7;

function TaskErrorRow(props: { job: Job; task: TaskRun; model: JobsViewModel }): React.ReactElement | null {
  const trans = useTrans();
  const { job, task, model } = props;
  const err = task.error;
  if (!err) return null;
  const changed = model.changes?.plan?.tasks
    .find((t) => t.name === task.name)
    ?.reasons.some((r) => r.kind === 'code' || r.kind === 'setup');
  return (
    <tr className={`${CLASS}-taskError`}>
      <td colSpan={COLUMNS} role="alert">
        <div className={`${CLASS}-errorText`}>{errorText(err)}</div>
        {err.cell !== undefined ? (
          <button
            type="button"
            className={`${CLASS}-link`}
            onClick={() => void model.run(() => model.actions.openAtCell(job.id, err.cell ?? 1))}
          >
            {trans.__('Open the notebook at cell %1', err.cell)}
          </button>
        ) : null}
        {changed && err.cell !== undefined ? (
          <span className={`${CLASS}-stale`}>
            {' '}
            {trans.__('(the code has changed since this run: the cell may differ from what failed)')}
          </span>
        ) : null}
        {err.traceback ? <pre className={`${CLASS}-traceback`}>{stripAnsi(err.traceback)}</pre> : null}
      </td>
    </tr>
  );
}

function TaskRow(props: { job: Job; task: TaskRun; model: JobsViewModel; now: number }): React.ReactElement {
  const trans = useTrans();
  const { job, task: t, model, now } = props;
  const waiting = t.waitingReason && !isTaskFinished(t.state) && t.state !== 'running';
  return (
    <React.Fragment>
      <tr data-task-row={t.name} data-state={t.state} className={`${CLASS}-task jp-mod-${t.state}`}>
        <td>{t.name}</td>
        <td>
          <StatePill state={t.state} trans={trans} />
          {t.reused ? <span className={`${CLASS}-reused`}> {trans.__('(reused)')}</span> : null}
          {t.requeues ? (
            <span
              className={`${CLASS}-requeued`}
              title={trans.__(
                'The cluster queue stopped it to give its GPUs to other work; not a failure, no retry used',
              )}
            >
              {' '}
              {trans._n('(requeued once)', '(requeued %1 times)', t.requeues)}
            </span>
          ) : null}
        </td>
        <td title={trans.__('attempt / attempts allowed (retries + 1)')}>
          {t.attempt}/{t.maxAttempts}
        </td>
        <td>
          {resourcesText(t, trans)}
          {t.placement ? <div className={`${CLASS}-placement`}>{t.placement}</div> : null}
        </td>
        <td
          title={
            t.startedAt
              ? trans.__(
                  'started %1%2',
                  clock(t.startedAt),
                  t.finishedAt ? trans.__(', finished %1', clock(t.finishedAt)) : '',
                )
              : undefined
          }
        >
          {formatDuration(taskDurationMs(t, now))}
        </td>
        <td className={`${CLASS}-usage`} title={usageTitle(t, trans) || undefined}>
          {usageText(t, trans)}
        </td>
        <td>
          <div className={`${CLASS}-taskActions`}>
            {isTaskFinished(t.state) ? null : (
              <button
                type="button"
                className="jp-mod-styled jp-mod-warn"
                disabled={t.stopping !== undefined}
                title={
                  t.stopping
                    ? trans.__('The task is being stopped')
                    : trans.__('Stop this task only: the tasks that depend on it are skipped, the rest goes on')
                }
                aria-label={trans.__('Cancel task %1', t.name)}
                onClick={() => void model.run(() => model.actions.cancelTask(job.id, t.name))}
              >
                {trans.__('Cancel')}
              </button>
            )}
            <button
              type="button"
              className="jp-mod-styled"
              disabled={!taskRan(t)}
              title={taskRan(t) ? undefined : trans.__('The task has not run')}
              onClick={() => model.showLogs(job.id, t.name)}
            >
              {trans.__('Logs')}
            </button>
            <button
              type="button"
              className="jp-mod-styled"
              disabled={!taskRan(t) || !isTaskFinished(t.state)}
              title={
                !taskRan(t)
                  ? trans.__('The task has not run')
                  : isTaskFinished(t.state)
                    ? undefined
                    : trans.__('Available once the task has finished')
              }
              onClick={() => void model.run(() => model.actions.openExecuted(job.id, t.name))}
            >
              {trans.__('Executed notebook')}
            </button>
          </div>
        </td>
      </tr>
      {waiting ? (
        <tr className={`${CLASS}-waiting`}>
          <td colSpan={COLUMNS}>{waitingText(t.waitingReason ?? '', trans)}</td>
        </tr>
      ) : null}
      {t.stopping ? (
        <tr className={`${CLASS}-waiting`}>
          <td colSpan={COLUMNS}>
            {t.stopping.by
              ? trans.__('Stopping (%1 by %2) since %3', t.stopping.reason, t.stopping.by, clock(t.stopping.since))
              : trans.__('Stopping (%1) since %2', t.stopping.reason, clock(t.stopping.since))}
            {t.stopping.error ? ` — ${trans.__('the last try failed: %1; trying again', t.stopping.error)}` : ''}
          </td>
        </tr>
      ) : null}
      <TaskErrorRow job={job} task={t} model={model} />
      {t.warnings?.length ? (
        <tr className={`${CLASS}-taskWarnings`}>
          <td colSpan={COLUMNS}>
            {t.warnings.map((w, i) => (
              <div key={i}>
                {trans.__('Warning')}
                {w.cell !== undefined ? ` (${trans.__('cell %1', w.cell)})` : ''}: {w.message}
              </div>
            ))}
          </td>
        </tr>
      ) : null}
      {t.artifacts.length > 0 ? (
        <tr className={`${CLASS}-artifacts`}>
          <td colSpan={COLUMNS}>
            {trans.__('Artifacts:')}{' '}
            {t.artifacts.map((a) => (
              <button
                key={a}
                type="button"
                className={`${CLASS}-link`}
                onClick={() => void model.run(() => model.actions.downloadArtifact(job.id, t.name, a))}
              >
                {a}
              </button>
            ))}
          </td>
        </tr>
      ) : null}
    </React.Fragment>
  );
}

export function TaskTable(props: { job: Job; model: JobsViewModel; now: number }): React.ReactElement {
  const trans = useTrans();
  return (
    <table className={`${CLASS}-tasks`}>
      <thead>
        <tr>
          <th>{trans.__('Task')}</th>
          <th>{trans.__('State')}</th>
          <th>{trans.__('Attempt')}</th>
          <th>{trans.__('Resources')}</th>
          <th>{trans.__('Duration')}</th>
          <th
            title={trans.__(
              'Peak memory · CPU time of the attempt, then GPU utilisation and peak GPU memory where measured',
            )}
          >
            {trans.__('Used')}
          </th>
          <th>
            <span className="jp-cellpipe-visuallyHidden">{trans.__('Actions')}</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {props.job.tasks.map((t) => (
          <TaskRow key={t.name} job={props.job} task={t} model={props.model} now={props.now} />
        ))}
      </tbody>
    </table>
  );
}
