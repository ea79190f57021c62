/**
 * The monitor's "Resources" tab: who holds what. For each whole-GPU and MIG resource of the server:
 * how many there are, in use and free, who holds each (user, job, task, node, for how long) and the
 * queue of tasks waiting for it with the reason each waits. Live from the event stream; a holder or
 * waiter opens its job when the user may see it.
 */
import type { Inventory, InventoryHolder, InventoryResource, InventoryWaiter } from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { formatDuration } from '../jobs/state.js';
import type { ICellpipeJobs } from '../tokens.js';
import { TransContext, useTrans } from '../translation.js';

const CLASS = 'jp-cellpipe-Inventory';
const MIG_PREFIX = 'nvidia.com/mig-';

export function resourceTitle(resource: string, trans: TranslationBundle): string {
  if (resource === 'nvidia.com/gpu') return trans.__('Whole GPUs');
  if (resource.startsWith(MIG_PREFIX)) return trans.__('MIG %1', resource.slice(MIG_PREFIX.length));
  return resource;
}

/** "for 3m 05s" since an ISO time, or nothing when unknown. */
function since(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  return Number.isFinite(t) ? formatDuration(Math.max(0, now - t)) : '';
}

function useNow(active: boolean): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [active]);
  return now;
}

interface Opener {
  canOpen(user: string): boolean;
  open(jobId: string): void;
}

function JobCell(props: { entry: InventoryHolder | InventoryWaiter; opener: Opener }): React.ReactElement {
  const trans = useTrans();
  const { entry, opener } = props;
  return opener.canOpen(entry.user) ? (
    <button
      type="button"
      className={`${CLASS}-link`}
      title={trans.__('Open job %1', entry.jobId)}
      onClick={() => opener.open(entry.jobId)}
    >
      {entry.jobId}
    </button>
  ) : (
    <span title={trans.__("Another user's job")}>{entry.jobId}</span>
  );
}

function Usage(props: { r: InventoryResource }): React.ReactElement {
  const trans = useTrans();
  const { r } = props;
  const waiting = r.waiting?.length ?? 0;
  return (
    <div className={`${CLASS}-usage`}>
      <div
        className={`${CLASS}-meter`}
        role="meter"
        aria-label={trans.__('%1 in use', resourceTitle(r.resource, trans))}
        aria-valuemin={0}
        aria-valuemax={Math.max(r.allocatable, 1)}
        aria-valuenow={r.used}
      >
        <div
          className={`${CLASS}-meterFill`}
          style={{ width: `${r.allocatable ? (100 * r.used) / r.allocatable : 0}%` }}
        />
      </div>
      <span className={`${CLASS}-counts`}>
        {trans.__('%1 of %2 in use · %3 free', r.used, r.allocatable, r.free)}
        {waiting ? ` · ${trans._n('%1 task waiting', '%1 tasks waiting', waiting)}` : ''}
      </span>
    </div>
  );
}

function Holders(props: { r: InventoryResource; opener: Opener; now: number }): React.ReactElement {
  const trans = useTrans();
  const { r, opener, now } = props;
  if (!r.holders.length) return <p className={`${CLASS}-none`}>{trans.__('Nobody holds one.')}</p>;
  return (
    <table className={`${CLASS}-table`} aria-label={trans.__('Holders of %1', resourceTitle(r.resource, trans))}>
      <thead>
        <tr>
          <th>{trans.__('User')}</th>
          <th>{trans.__('Job')}</th>
          <th>{trans.__('Task')}</th>
          <th>{trans.__('Node')}</th>
          <th>{trans.__('Holds')}</th>
          <th>{trans.__('For')}</th>
        </tr>
      </thead>
      <tbody>
        {r.holders.map((h) => (
          <tr key={`${h.jobId}/${h.task}`} data-holder={`${h.jobId}/${h.task}`}>
            <td>{h.user}</td>
            <td>
              <JobCell entry={h} opener={opener} />
            </td>
            <td>{h.task}</td>
            <td>{h.node ?? '—'}</td>
            <td>{h.count}</td>
            <td title={h.since}>{since(h.since, now)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Waiting(props: { r: InventoryResource; opener: Opener; now: number }): React.ReactElement | null {
  const trans = useTrans();
  const { r, opener, now } = props;
  const queue = r.waiting ?? [];
  if (!queue.length) return null;
  return (
    <table className={`${CLASS}-table`} aria-label={trans.__('Tasks waiting for %1', resourceTitle(r.resource, trans))}>
      <thead>
        <tr>
          <th>#</th>
          <th>{trans.__('User')}</th>
          <th>{trans.__('Job')}</th>
          <th>{trans.__('Task')}</th>
          <th>{trans.__('Needs')}</th>
          <th>{trans.__('Waiting for')}</th>
          <th>{trans.__('Why')}</th>
        </tr>
      </thead>
      <tbody>
        {queue.map((w, i) => (
          <tr key={`${w.jobId}/${w.task}`} data-waiter={`${w.jobId}/${w.task}`}>
            <td>{i + 1}</td>
            <td>{w.user}</td>
            <td>
              <JobCell entry={w} opener={opener} />
            </td>
            <td>{w.task}</td>
            <td>{w.count}</td>
            <td title={w.since}>{since(w.since, now)}</td>
            <td>{w.reason ?? trans.__('queued behind other tasks')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function ResourceCard(props: { r: InventoryResource; opener: Opener; now: number }): React.ReactElement {
  const trans = useTrans();
  const { r } = props;
  const title = resourceTitle(r.resource, trans);
  return (
    <section className={`${CLASS}-resource`} aria-label={title} data-resource={r.resource}>
      <h3>
        {title} <code className={`${CLASS}-name`}>{r.resource}</code>
      </h3>
      <Usage r={r} />
      <h4>{trans.__('Held by')}</h4>
      <Holders {...props} />
      {r.waiting?.length ? <h4>{trans.__('Waiting')}</h4> : null}
      <Waiting {...props} />
    </section>
  );
}

function executorText(inventory: Inventory, trans: TranslationBundle): string {
  if (inventory.executor === 'local') return trans.__('Tasks run on the Cellpipe server’s machine.');
  if (inventory.executor === 'kubernetes')
    return trans.__('Tasks run as Kubernetes Jobs; the numbers are the cluster’s nodes.');
  return trans.__('Executor: %1', inventory.executor);
}

export function InventoryTab(props: { jobs: ICellpipeJobs; open: (jobId: string) => void }): React.ReactElement {
  const trans = useTrans();
  const { jobs } = props;
  const inventory = jobs.inventory;
  const busy = (inventory?.resources ?? []).some((r) => r.holders.length || r.waiting?.length);
  const now = useNow(busy);
  const me = jobs.me;
  const opener: Opener = { canOpen: (user) => Boolean(me && (me.admin || me.user === user)), open: props.open };
  return (
    <div className={`${CLASS}-body`}>
      <div className={`${CLASS}-header`}>
        <h2>{trans.__('GPUs and MIG slices')}</h2>
        <button type="button" className="jp-mod-styled" onClick={() => void jobs.refreshInventory()}>
          {trans.__('Refresh')}
        </button>
      </div>
      {jobs.connection.kind === 'error' ? (
        <div className={`${CLASS}-error`} role="alert">
          {jobs.connection.message}
        </div>
      ) : null}
      {!inventory ? (
        <p className={`${CLASS}-none`}>{trans.__('Loading…')}</p>
      ) : (
        <>
          <p className={`${CLASS}-executor`}>{executorText(inventory, trans)}</p>
          {inventory.resources.length === 0 ? (
            <p className={`${CLASS}-none`}>
              {trans.__(
                'This server has no GPUs or MIG slices. Tasks that ask for one cannot start. (A machine without GPUs can declare some for testing: CELLPIPE_GPUS="gpu:2,mig-3g.20gb:1".)',
              )}
            </p>
          ) : (
            inventory.resources.map((r) => <ResourceCard key={r.resource} r={r} opener={opener} now={now} />)
          )}
        </>
      )}
    </div>
  );
}

export class InventoryView extends ReactWidget {
  constructor(
    private readonly jobs: ICellpipeJobs,
    private readonly open: (jobId: string) => void,
    private readonly trans: TranslationBundle,
  ) {
    super();
    this.addClass(CLASS);
  }

  protected override onAfterShow(): void {
    // The stream keeps it live; an explicit fetch covers a server without the inventory feed.
    void this.jobs.refreshInventory();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this.jobs.changed}>{() => <InventoryTab jobs={this.jobs} open={this.open} />}</UseSignal>
      </TransContext.Provider>
    );
  }
}
