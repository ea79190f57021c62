/**
 * The monitor's "Schedules" tab: every schedule with its trigger in words, next fire and last outcome,
 * pause/resume/edit/delete, and the selected schedule's history with links to its jobs.
 */
import type { ScheduleDetail, ScheduleRun } from '@cellpipe/schema';
import * as React from 'react';
import { dateTime } from '../components/jobs/format.js';
import { useTrans } from '../translation.js';
import { describeTrigger } from './form.js';
import type { SchedulesModel } from './model.js';

export const SCHEDULES_CLASS = 'jp-cellpipe-Schedules';

export interface ScheduleActions {
  edit(schedule: ScheduleDetail): Promise<void>;
  remove(schedule: ScheduleDetail): Promise<void>;
  openJob(jobId: string): Promise<void>;
}

function lastText(s: ScheduleDetail): string {
  const r = s.lastRun;
  if (!r) return '—';
  return r.jobId ? `${r.outcome} (${r.jobId})` : `${r.reason ?? r.outcome}`;
}

function ScheduleRow(props: {
  s: ScheduleDetail;
  model: SchedulesModel;
  actions: ScheduleActions;
}): React.ReactElement {
  const trans = useTrans();
  const { s, model, actions } = props;
  const selected = model.selected === s.id;
  const trigger = describeTrigger({
    mode: s.every !== undefined ? 'every' : 'cron',
    cron: s.cron ?? '',
    every: s.every ?? '',
    timezone: s.timezone,
  });
  return (
    <tr className={selected ? 'jp-mod-selected' : ''} data-schedule={s.name}>
      <td>
        <button type="button" className={`${SCHEDULES_CLASS}-link`} onClick={() => void model.select(s.id)}>
          {s.name}
        </button>
      </td>
      <td>{`${s.pipeline} · ${s.version === 'latest' ? trans.__('latest') : `v${s.version}`}`}</td>
      <td title={s.cron ?? s.every}>{trigger}</td>
      <td className={`${SCHEDULES_CLASS}-state jp-mod-${s.state}`} title={s.stateReason}>
        {s.state}
        {s.stateReason && s.state !== 'active' ? (
          <div className={`${SCHEDULES_CLASS}-reason`}>{s.stateReason}</div>
        ) : null}
      </td>
      <td>{s.nextFires[0] ? dateTime(s.nextFires[0]) : '—'}</td>
      <td>{lastText(s)}</td>
      <td className={`${SCHEDULES_CLASS}-actions`}>
        {s.state === 'active' ? (
          <button
            type="button"
            className="jp-mod-styled"
            disabled={model.busy}
            onClick={() => void model.run(() => model.catalog.pauseSchedule(s.id))}
          >
            {trans.__('Pause')}
          </button>
        ) : (
          <button
            type="button"
            className="jp-mod-styled"
            disabled={model.busy || s.state === 'ended'}
            onClick={() => void model.run(() => model.catalog.resumeSchedule(s.id))}
          >
            {trans.__('Resume')}
          </button>
        )}
        <button type="button" className="jp-mod-styled" disabled={model.busy} onClick={() => void actions.edit(s)}>
          {trans.__('Edit')}
        </button>
        <button
          type="button"
          className="jp-mod-styled jp-mod-warn"
          disabled={model.busy}
          onClick={() => void actions.remove(s)}
        >
          {trans.__('Delete')}
        </button>
      </td>
    </tr>
  );
}

function HistoryRow(props: { r: ScheduleRun; actions: ScheduleActions }): React.ReactElement {
  const trans = useTrans();
  const { r, actions } = props;
  const slot =
    r.count > 1 ? trans.__('%1 slots, %2 to %3', r.count, dateTime(r.slot), dateTime(r.lastSlot)) : dateTime(r.slot);
  return (
    <tr>
      <td>{slot}</td>
      <td>{r.firedAt ? dateTime(r.firedAt) : '—'}</td>
      <td>
        {r.jobId && !r.pruned ? (
          <button type="button" className={`${SCHEDULES_CLASS}-link`} onClick={() => void actions.openJob(r.jobId!)}>
            {r.jobId}
          </button>
        ) : (
          (r.jobId ?? '—')
        )}
      </td>
      <td>{r.outcome === 'skipped' ? trans.__('not run: %1', r.reason ?? '') : r.outcome}</td>
      <td>{[r.pruned ? trans.__('job deleted by retention') : '', r.message ?? ''].filter(Boolean).join('; ')}</td>
    </tr>
  );
}

export function SchedulesTab(props: { model: SchedulesModel; actions: ScheduleActions }): React.ReactElement {
  const trans = useTrans();
  const { model, actions } = props;
  const selected = model.schedules.find((s) => s.id === model.selected);
  return (
    <div className={`${SCHEDULES_CLASS}-body`}>
      {model.error ? (
        <div className={`${SCHEDULES_CLASS}-error`} role="alert">
          {model.error}
        </div>
      ) : null}
      {model.schedules.length === 0 ? (
        <p className={`${SCHEDULES_CLASS}-empty`}>
          {trans.__(
            'No schedules yet: use "Schedule…" in the Cellpipe Pipeline sidebar, or `cellpipe schedule create`.',
          )}
        </p>
      ) : (
        <table className={`${SCHEDULES_CLASS}-table`} aria-label={trans.__('Schedules')}>
          <thead>
            <tr>
              <th>{trans.__('Name')}</th>
              <th>{trans.__('Pipeline')}</th>
              <th>{trans.__('When')}</th>
              <th>{trans.__('State')}</th>
              <th>{trans.__('Next fire')}</th>
              <th>{trans.__('Last run')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {model.schedules.map((s) => (
              <ScheduleRow key={s.id} s={s} model={model} actions={actions} />
            ))}
          </tbody>
        </table>
      )}
      {selected ? (
        <section className={`${SCHEDULES_CLASS}-history`} aria-label={trans.__('History of %1', selected.name)}>
          <h3>{trans.__('History of %1', selected.name)}</h3>
          <table className={`${SCHEDULES_CLASS}-table`}>
            <thead>
              <tr>
                <th>{trans.__('Slot')}</th>
                <th>{trans.__('Fired')}</th>
                <th>{trans.__('Job')}</th>
                <th>{trans.__('Outcome')}</th>
                <th>{trans.__('Details')}</th>
              </tr>
            </thead>
            <tbody>
              {model.history.map((r) => (
                <HistoryRow key={r.id} r={r} actions={actions} />
              ))}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
