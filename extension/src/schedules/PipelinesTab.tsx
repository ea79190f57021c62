/** The monitor's "Pipelines" tab: saved pipelines, their versions, and what changed between two. */
import type { FieldChange, PipelineDiff } from '@cellpipe/schema';
import * as React from 'react';
import { dateTime } from '../components/jobs/format.js';
import { useTrans } from '../translation.js';
import type { SchedulesModel } from './model.js';

export const PIPELINES_CLASS = 'jp-cellpipe-Pipelines';

const value = (v: unknown): string => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

function Change(props: { c: FieldChange }): React.ReactElement {
  const { c } = props;
  if (c.field === 'code') {
    return (
      <li>
        <span className={`${PIPELINES_CLASS}-field`}>code</span>
        <pre className={`${PIPELINES_CLASS}-from`}>{value(c.from)}</pre>
        <pre className={`${PIPELINES_CLASS}-to`}>{value(c.to)}</pre>
      </li>
    );
  }
  return (
    <li>
      <span className={`${PIPELINES_CLASS}-field`}>{c.field}</span>: {value(c.from)} → {value(c.to)}
    </li>
  );
}

function Diff(props: { diff: PipelineDiff }): React.ReactElement {
  const trans = useTrans();
  const d = props.diff;
  return (
    <section className={`${PIPELINES_CLASS}-diff`} aria-label={trans.__('Changes')}>
      <h3>{trans.__('Version %1 → %2', d.from, d.to)}</h3>
      {d.identical ? <p>{trans.__('No changes.')}</p> : null}
      <ul>
        {d.tasks.added.map((t) => (
          <li key={`+${t}`} className="jp-mod-added">
            {trans.__('task %1 added', t)}
          </li>
        ))}
        {d.tasks.removed.map((t) => (
          <li key={`-${t}`} className="jp-mod-removed">
            {trans.__('task %1 removed', t)}
          </li>
        ))}
        {d.tasks.changed.map((t) => (
          <li key={`~${t.task}`}>
            {trans.__('task %1 changed', t.task)}
            <ul>
              {t.fields.map((c) => (
                <Change key={c.field} c={c} />
              ))}
            </ul>
          </li>
        ))}
        {d.spec.map((c) => (
          <Change key={`spec.${c.field}`} c={c} />
        ))}
      </ul>
    </section>
  );
}

export function PipelinesTab(props: { model: SchedulesModel }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const [from, setFrom] = React.useState<number | null>(null);
  const [to, setTo] = React.useState<number | null>(null);
  return (
    <div className={`${PIPELINES_CLASS}-body`}>
      {model.error ? (
        <div className={`${PIPELINES_CLASS}-error`} role="alert">
          {model.error}
        </div>
      ) : null}
      <ul className={`${PIPELINES_CLASS}-list`} aria-label={trans.__('Saved pipelines')}>
        {model.pipelines.map((p) => (
          <li key={`${p.owner}/${p.name}`} className={model.pipeline === p.name ? 'jp-mod-selected' : ''}>
            <button
              type="button"
              className={`${PIPELINES_CLASS}-link`}
              onClick={() => void model.selectPipeline(p.name)}
            >
              {p.name}
            </button>{' '}
            {trans._n('%1 version', '%1 versions', p.versions)} · {dateTime(p.latest.createdAt)}
          </li>
        ))}
      </ul>
      {model.pipeline ? (
        <section aria-label={trans.__('Versions of %1', model.pipeline)}>
          <h3>{trans.__('Versions of %1', model.pipeline)}</h3>
          <table className={`${PIPELINES_CLASS}-table`}>
            <thead>
              <tr>
                <th>{trans.__('From')}</th>
                <th>{trans.__('To')}</th>
                <th>{trans.__('Version')}</th>
                <th>{trans.__('Saved')}</th>
                <th>{trans.__('By')}</th>
                <th>{trans.__('Message')}</th>
              </tr>
            </thead>
            <tbody>
              {model.versions.map((v) => (
                <tr key={v.version}>
                  <td>
                    <input
                      type="radio"
                      name="cellpipe-diff-from"
                      aria-label={trans.__('Diff from version %1', v.version)}
                      checked={from === v.version}
                      onChange={() => setFrom(v.version)}
                    />
                  </td>
                  <td>
                    <input
                      type="radio"
                      name="cellpipe-diff-to"
                      aria-label={trans.__('Diff to version %1', v.version)}
                      checked={to === v.version}
                      onChange={() => setTo(v.version)}
                    />
                  </td>
                  <td title={v.hash}>v{v.version}</td>
                  <td>{dateTime(v.createdAt)}</td>
                  <td>{v.author}</td>
                  <td>{v.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <button
            type="button"
            className="jp-mod-styled"
            disabled={from === null || to === null || model.busy}
            onClick={() => void model.showDiff(from!, to!)}
          >
            {trans.__('Compare')}
          </button>
        </section>
      ) : null}
      {model.diff ? <Diff diff={model.diff} /> : null}
    </div>
  );
}
