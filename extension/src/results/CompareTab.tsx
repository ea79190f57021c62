/**
 * The monitor's "Results" tab: the runs of one pipeline side by side (one row per run, newest first,
 * one column per task result) and, for each numeric result, a small line chart over the runs.
 */
import type { ResultColumn, ResultRun } from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { dateTime, StatePill } from '../components/jobs/format.js';
import { TransContext, useTrans } from '../translation.js';
import { chartGeometry } from './chart.js';
import { resultText } from './format.js';
import type { ResultsModel } from './model.js';

export const RESULTS_CLASS = 'jp-cellpipe-Results';
const CHART = { width: 180, height: 56, pad: 6 };

function Chart(props: { model: ResultsModel; column: ResultColumn }): React.ReactElement | null {
  const trans = useTrans();
  const { model, column } = props;
  const values = model.series(column.task, column.name).map((v) => (typeof v === 'number' ? v : undefined));
  const g = chartGeometry(values, CHART);
  if (!g) return null;
  const label = `${column.task}.${column.name}`;
  const summary = trans.__('%1 over %2 runs, from %3 to %4', label, values.length, g.min, g.max);
  return (
    <figure className={`${RESULTS_CLASS}-chart`} data-result={label}>
      <figcaption>{label}</figcaption>
      <svg width={CHART.width} height={CHART.height} role="img" aria-label={summary}>
        <title>{summary}</title>
        <path d={g.path} className={`${RESULTS_CLASS}-line`} />
        {g.points.map((p) => (
          <circle key={p.run} cx={p.x} cy={p.y} r={2.5} className={`${RESULTS_CLASS}-point`}>
            <title>{String(p.value)}</title>
          </circle>
        ))}
      </svg>
      <div className={`${RESULTS_CLASS}-range`}>
        {resultText(g.min)} – {resultText(g.max)}
      </div>
    </figure>
  );
}

function RunsTable(props: {
  runs: ResultRun[];
  columns: ResultColumn[];
  openJob: (id: string) => void;
}): React.ReactElement {
  const trans = useTrans();
  return (
    <table className={`${RESULTS_CLASS}-table`} aria-label={trans.__('Results by run')}>
      <thead>
        <tr>
          <th scope="col">{trans.__('Job')}</th>
          <th scope="col">{trans.__('Version')}</th>
          <th scope="col">{trans.__('State')}</th>
          <th scope="col">{trans.__('Created')}</th>
          {props.columns.map((c) => (
            <th scope="col" key={`${c.task}/${c.name}`}>
              {c.task}.{c.name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {props.runs.map((run) => (
          <tr key={run.jobId} data-job={run.jobId}>
            <td>
              <button type="button" className={`${RESULTS_CLASS}-link`} onClick={() => props.openJob(run.jobId)}>
                {run.jobName} ({run.jobId})
              </button>
            </td>
            <td>{run.version !== undefined ? `v${run.version}` : trans.__('unsaved')}</td>
            <td>
              <StatePill state={run.state} trans={trans} />
            </td>
            <td>{dateTime(run.createdAt)}</td>
            {props.columns.map((c) => (
              <td key={`${c.task}/${c.name}`}>{resultText(run.results[c.task]?.[c.name])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ResultsTab(props: { model: ResultsModel; openJob: (id: string) => void }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const r = model.results;
  const numeric = r?.columns.filter((c) => c.type === 'number') ?? [];
  return (
    <div className={`${RESULTS_CLASS}-body`}>
      <label htmlFor="cellpipe-results-pipeline">{trans.__('Pipeline')} </label>
      <select
        id="cellpipe-results-pipeline"
        className="jp-mod-styled"
        value={model.selected ?? ''}
        onChange={(e) => void model.select(e.currentTarget.value || null)}
      >
        <option value="">{trans.__('Choose a pipeline…')}</option>
        {model.pipelines.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
      {model.error ? (
        <p className={`${RESULTS_CLASS}-error`} role="alert">
          {model.error}
        </p>
      ) : null}
      {model.selected && r && !r.runs.length ? <p>{trans.__('No runs of %1 yet.', model.selected)}</p> : null}
      {r && r.runs.length && !r.columns.length ? <p>{trans.__('Its runs published no results.')}</p> : null}
      {numeric.length && r && r.runs.length > 0 ? (
        <div className={`${RESULTS_CLASS}-charts`} aria-label={trans.__('Results over runs')}>
          {numeric.map((c) => (
            <Chart key={`${c.task}/${c.name}`} model={model} column={c} />
          ))}
        </div>
      ) : null}
      {r && r.runs.length ? <RunsTable runs={r.runs} columns={r.columns} openJob={props.openJob} /> : null}
      {r && r.total > r.runs.length ? <p>{trans.__('The newest %1 of %2 runs.', r.runs.length, r.total)}</p> : null}
    </div>
  );
}

export class ResultsView extends ReactWidget {
  constructor(
    private readonly model: ResultsModel,
    private readonly trans: TranslationBundle,
    private readonly openJob: (id: string) => void,
  ) {
    super();
    this.addClass(RESULTS_CLASS);
  }

  protected override onAfterShow(): void {
    void this.model.refresh();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this.model.changed}>
          {() => <ResultsTab model={this.model} openJob={this.openJob} />}
        </UseSignal>
      </TransContext.Provider>
    );
  }
}
