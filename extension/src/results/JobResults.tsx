/** A job's results in its view: each task's named results, and a way to compare them across runs. */
import type { Job } from '@cellpipe/schema';
import * as React from 'react';
import { MONITOR_CLASS } from '../components/jobs/format.js';
import { useTrans } from '../translation.js';
import { resultText } from './format.js';

const CLASS = `${MONITOR_CLASS}-results`;

/** The section component, with what "Compare runs" does (open the Results tab on the pipeline). */
export function jobResultsSection(compare: (pipeline: string) => void): React.ComponentType<{ job: Job }> {
  return function JobResults(props: { job: Job }): React.ReactElement | null {
    const trans = useTrans();
    const { job } = props;
    const rows = Object.entries(job.results ?? {}).flatMap(([task, values]) =>
      Object.entries(values).map(([name, value]) => ({ task, name, value })),
    );
    if (!rows.length) return null;
    const pipeline = job.pipelineRef?.name;
    return (
      <div className={CLASS}>
        <h3>{trans.__('Results')}</h3>
        <table className={`${CLASS}-table`} aria-label={trans.__('Results of job %1', job.id)}>
          <thead>
            <tr>
              <th scope="col">{trans.__('Task')}</th>
              <th scope="col">{trans.__('Result')}</th>
              <th scope="col">{trans.__('Value')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={`${r.task}/${r.name}`}>
                <td>{r.task}</td>
                <td>{r.name}</td>
                <td className={typeof r.value === 'number' ? `${CLASS}-number` : undefined}>{resultText(r.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {pipeline ? (
          <button type="button" className="jp-mod-styled" onClick={() => compare(pipeline)}>
            {trans.__('Compare runs of %1', pipeline)}
          </button>
        ) : null}
      </div>
    );
  };
}
