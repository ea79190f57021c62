/**
 * The job list: filters the server applies, a windowed list that loads older pages as it scrolls,
 * arrow keys to move between jobs, and check boxes for bulk cancel and delete.
 */
import { TERMINAL_JOB_STATES, type JobState, type JobSummary } from '@cellpipe/schema';
import * as React from 'react';
import { List, useListRef, type RowComponentProps } from 'react-window';
import { isJobFinished } from '../../jobs/state.js';
import { isFiltered, type CreatedWithin } from '../../monitor/jobListModel.js';
import type { JobsViewModel } from '../../monitor/jobsViewModel.js';
import { useTrans } from '../../translation.js';
import { differingParameters } from './differingParameters.js';
import { dateTime, MONITOR_CLASS, StatePill, stateLabel } from './format.js';

const CLASS = MONITOR_CLASS;
/** Rows have one height, so the window knows where every row is without measuring. */
export const ROW_HEIGHT = 64;
/** Load the next page when the last rendered row is this close to the end. */
const LOAD_AHEAD = 10;
const STATES: JobState[] = ['running', 'pending', 'succeeded', 'failed', 'cancelled'];

export function rowButtonId(jobId: string): string {
  return `cellpipe-job-row-${jobId}`;
}

function JobListToolbar(props: { model: JobsViewModel }): React.ReactElement {
  const trans = useTrans();
  const { list, jobs } = props.model;
  const f = list.filter;
  const within: [CreatedWithin, string][] = [
    ['any', trans.__('Any time')],
    ['hour', trans.__('Last hour')],
    ['day', trans.__('Last 24 hours')],
    ['week', trans.__('Last 7 days')],
    ['month', trans.__('Last 30 days')],
  ];
  return (
    <div className={`${CLASS}-filters`} role="search" aria-label={trans.__('Filter jobs')}>
      <input
        type="search"
        className={`${CLASS}-search jp-mod-styled`}
        aria-label={trans.__('Search jobs by name, id or owner')}
        placeholder={trans.__('Search name, id, owner')}
        value={f.search}
        onChange={(e) => list.setFilter({ search: e.currentTarget.value })}
      />
      <div className={`${CLASS}-stateFilters`} role="group" aria-label={trans.__('States')}>
        {STATES.map((s) => {
          const on = f.states.includes(s);
          return (
            <button
              key={s}
              type="button"
              className={`${CLASS}-chip jp-mod-${s}${on ? ' jp-mod-active' : ''}`}
              aria-pressed={on}
              onClick={() => list.setFilter({ states: on ? f.states.filter((x) => x !== s) : [...f.states, s] })}
            >
              {stateLabel(s, trans)}
            </button>
          );
        })}
      </div>
      <div className={`${CLASS}-filterRow`}>
        <label>
          {trans.__('Created')}{' '}
          <select
            className="jp-mod-styled"
            value={f.createdWithin}
            onChange={(e) => list.setFilter({ createdWithin: e.currentTarget.value as CreatedWithin })}
          >
            {within.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {jobs.me?.admin ? (
          <label>
            {trans.__('Owner')}{' '}
            <input
              type="text"
              className="jp-mod-styled"
              size={10}
              placeholder={trans.__('everyone')}
              value={f.user}
              onChange={(e) => list.setFilter({ user: e.currentTarget.value })}
            />
          </label>
        ) : null}
      </div>
    </div>
  );
}

function BulkBar(props: { model: JobsViewModel }): React.ReactElement | null {
  const trans = useTrans();
  const { model } = props;
  const { list } = model;
  const checked = list.items.filter((j) => list.checked.has(j.id));
  if (!checked.length) return null;
  const active = checked.filter((j) => !isJobFinished(j.state));
  const finished = checked.filter((j) => (TERMINAL_JOB_STATES as readonly string[]).includes(j.state));
  return (
    <div className={`${CLASS}-bulk`} role="toolbar" aria-label={trans.__('Selected jobs')}>
      <span>{trans._n('%1 selected', '%1 selected', checked.length)}</span>
      <button
        type="button"
        className="jp-mod-styled jp-mod-warn"
        disabled={!active.length || model.busy}
        onClick={() => void model.run(() => model.actions.cancelJobs(active.map((j) => j.id)))}
      >
        {trans.__('Cancel %1', active.length)}
      </button>
      <button
        type="button"
        className="jp-mod-styled jp-mod-warn"
        disabled={!finished.length || model.busy}
        onClick={() => void model.run(() => model.actions.deleteJobs(finished.map((j) => j.id)))}
      >
        {trans.__('Delete %1', finished.length)}
      </button>
      <button type="button" className="jp-mod-styled" onClick={() => list.checkAll(false)}>
        {trans.__('Clear selection')}
      </button>
    </div>
  );
}

/**
 * What a row shows. The window re-renders its rows only when these props change, so everything a row
 * reads that can change (rows, ticks, selection) is passed here rather than read through the model.
 */
interface RowProps {
  model: JobsViewModel;
  items: readonly JobSummary[];
  checked: ReadonlySet<string>;
  selected: string | null;
  params: Map<string, string[]>;
  focusable: string | null;
}

function counts(j: JobSummary): string {
  return Object.entries(j.taskCounts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
}

function JobRow(props: RowComponentProps<RowProps>) {
  const { index, style, ariaAttributes, model, items, checked, params, focusable } = props;
  const trans = useTrans();
  const j = items[index];
  if (!j) return null;
  const selected = j.id === props.selected;
  const differing = params.get(j.id) ?? [];
  const taskCounts = counts(j);
  return (
    <div
      {...ariaAttributes}
      style={style}
      data-job-id={j.id}
      data-state={j.state}
      data-schedule-id={j.scheduleId}
      className={`${CLASS}-row jp-mod-${j.state}${selected ? ' jp-mod-selected' : ''}`}
    >
      <input
        type="checkbox"
        className={`${CLASS}-rowCheck`}
        aria-label={trans.__('Select job %1 (%2)', j.name, j.id)}
        checked={checked.has(j.id)}
        onChange={(e) => model.list.toggle(j.id, e.currentTarget.checked)}
      />
      <button
        type="button"
        id={rowButtonId(j.id)}
        className={`${CLASS}-rowButton`}
        aria-pressed={selected}
        tabIndex={j.id === focusable ? 0 : -1}
        onClick={() => model.select(j.id)}
      >
        <span className={`${CLASS}-rowName`}>{j.name}</span>
        <StatePill state={j.state} trans={trans} />
        <span className={`${CLASS}-rowMeta`}>
          {j.id} · {j.owner} · {dateTime(j.createdAt)}
          {j.scheduleId ? ` · ${trans.__('scheduled')}` : ''}
          {taskCounts ? ` · ${taskCounts}` : ''}
        </span>
        {differing.length ? <span className={`${CLASS}-rowParams`}>{differing.join(' · ')}</span> : null}
      </button>
    </div>
  );
}

export function JobList(props: { model: JobsViewModel }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const { list, jobs } = model;
  const listRef = useListRef(null);
  const params = React.useMemo(() => differingParameters(list.items), [list.items]);
  const index = list.items.findIndex((j) => j.id === model.selected);
  const focusable = index >= 0 ? model.selected : (list.items[0]?.id ?? null);

  // Keep the selected row in view, and keep focus on it while the user moves with the keyboard.
  React.useEffect(() => {
    if (index < 0) return;
    listRef.current?.scrollToRow({ index, align: 'smart' });
    const container = listRef.current?.element;
    if (model.selected && container?.contains(document.activeElement)) {
      document.getElementById(rowButtonId(model.selected))?.focus();
    }
  }, [index, model.selected]);

  const onKeyDown = (e: React.KeyboardEvent): void => {
    const moves: Record<string, number> = {
      ArrowDown: index + 1,
      ArrowUp: index - 1,
      Home: 0,
      End: list.items.length - 1,
      PageDown: index + 10,
      PageUp: index - 10,
    };
    const to = moves[e.key];
    if (to === undefined || !list.items.length) return;
    e.preventDefault();
    const target = list.items[Math.max(0, Math.min(list.items.length - 1, to))];
    if (target) model.select(target.id);
  };

  const offline = jobs.connection.kind === 'error';
  const allChecked = list.items.length > 0 && list.items.every((j) => list.checked.has(j.id));
  return (
    <section className={`${CLASS}-list`} aria-label={trans.__('Jobs')}>
      <div className={`${CLASS}-listHeader`}>
        <h2>{trans.__('Jobs')}</h2>
        <button type="button" className="jp-mod-styled" onClick={() => void list.reload(list.items.length)}>
          {trans.__('Refresh')}
        </button>
      </div>
      <JobListToolbar model={model} />
      <div className={`${CLASS}-listSummary`}>
        <label>
          <input
            type="checkbox"
            checked={allChecked}
            disabled={!list.items.length}
            onChange={(e) => list.checkAll(e.currentTarget.checked)}
          />{' '}
          {trans.__('All loaded')}
        </label>
        <span aria-live="polite">
          {list.total === undefined ? '' : trans._n('%2 of %1 job', '%2 of %1 jobs', list.total, list.items.length)}
        </span>
      </div>
      <BulkBar model={model} />
      {list.error ? (
        <div className={`${CLASS}-error`} role="alert">
          {list.error}
        </div>
      ) : null}
      {list.items.length === 0 ? (
        <p className={`${CLASS}-empty`}>
          {list.loading
            ? trans.__('Loading…')
            : offline
              ? trans.__('No jobs to show while the Cellpipe server is unavailable.')
              : isFiltered(list.filter)
                ? trans.__('No job matches these filters.')
                : trans.__(
                    'No Cellpipe jobs yet. Tag cells as tasks in a notebook and click "Run as Pipeline" in the Cellpipe Pipeline panel.',
                  )}
        </p>
      ) : (
        <List
          className={`${CLASS}-jobs`}
          aria-label={trans.__('Job list')}
          listRef={listRef}
          rowComponent={JobRow}
          rowCount={list.items.length}
          rowHeight={ROW_HEIGHT}
          rowProps={{ model, items: list.items, checked: list.checked, selected: model.selected, params, focusable }}
          overscanCount={4}
          onKeyDown={onKeyDown}
          onRowsRendered={(visible) => {
            if (list.hasMore && visible.stopIndex >= list.items.length - LOAD_AHEAD) void list.loadMore();
          }}
        />
      )}
    </section>
  );
}
