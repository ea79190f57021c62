/** The job list: newest first, one row per job, live. */
import type { JobSummary } from '@cellpipe/schema';
import * as React from 'react';
import type { JobsViewModel } from '../../monitor/jobsViewModel.js';
import { useTrans } from '../../translation.js';
import { dateTime, MONITOR_CLASS, StatePill } from './format.js';

const CLASS = MONITOR_CLASS;

function JobRow(props: { job: JobSummary; selected: boolean; onSelect: () => void }): React.ReactElement {
  const trans = useTrans();
  const j = props.job;
  const counts = Object.entries(j.taskCounts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return (
    <li
      data-job-id={j.id}
      data-state={j.state}
      className={`${CLASS}-row jp-mod-${j.state}${props.selected ? ' jp-mod-selected' : ''}`}
    >
      <button type="button" className={`${CLASS}-rowButton`} onClick={props.onSelect} aria-pressed={props.selected}>
        <span className={`${CLASS}-rowName`}>{j.name}</span>
        <StatePill state={j.state} trans={trans} />
        <span className={`${CLASS}-rowMeta`}>
          {j.id} · {j.owner} · {dateTime(j.createdAt)}
          {counts ? ` · ${counts}` : ''}
        </span>
      </button>
    </li>
  );
}

export function JobList(props: { model: JobsViewModel }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const { jobs } = model;
  const offline = jobs.connection.kind === 'error';
  return (
    <section className={`${CLASS}-list`} aria-label={trans.__('Jobs')}>
      <div className={`${CLASS}-listHeader`}>
        <h2>{trans.__('Jobs')}</h2>
        <button type="button" className="jp-mod-styled" onClick={() => void jobs.refresh()}>
          {trans.__('Refresh')}
        </button>
      </div>
      {jobs.state.jobs.length === 0 ? (
        <p className={`${CLASS}-empty`}>
          {offline
            ? trans.__('No jobs to show while the Cellpipe server is unavailable.')
            : trans.__(
                'No Cellpipe jobs yet. Tag cells as tasks in a notebook and click "Run as Pipeline" in the Cellpipe Pipeline panel.',
              )}
        </p>
      ) : (
        <ul className={`${CLASS}-jobs`}>
          {jobs.state.jobs.map((j) => (
            <JobRow key={j.id} job={j} selected={j.id === model.selected} onSelect={() => model.select(j.id)} />
          ))}
        </ul>
      )}
      {jobs.hasMore ? (
        <button type="button" className="jp-mod-styled" onClick={() => void model.run(() => jobs.loadMore())}>
          {trans.__('Older jobs')}
        </button>
      ) : null}
    </section>
  );
}
