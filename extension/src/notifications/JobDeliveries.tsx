/**
 * A job's notifications in its view: each target it was sent to, whether it arrived, and every
 * attempt (the status code or the error, and when the next try is due). Refreshed while one is
 * still being retried.
 */
import type { Delivery, Job } from '@cellpipe/schema';
import * as React from 'react';
import { describeError } from '../api/client.js';
import type { NotificationsClient } from '../api/notifications.js';
import { clock, MONITOR_CLASS } from '../components/jobs/format.js';
import { isJobFinished } from '../jobs/state.js';
import { useTrans } from '../translation.js';

const CLASS = `${MONITOR_CLASS}-deliveries`;
/** How often pending deliveries are looked at again. */
const REFRESH_MS = 2000;

function useDeliveries(client: NotificationsClient, job: Job): { items: Delivery[]; error: string | null } {
  const [state, setState] = React.useState<{ items: Delivery[]; error: string | null }>({ items: [], error: null });
  const finished = isJobFinished(job.state);
  React.useEffect(() => {
    // Notifications are written when the job ends.
    if (!finished) return;
    let live = true;
    let timer: number | undefined;
    const load = (): void => {
      client.deliveries(job.id).then(
        (list) => {
          if (!live) return;
          setState({ items: list.items, error: null });
          if (list.items.some((d) => d.state === 'pending')) timer = window.setTimeout(load, REFRESH_MS);
        },
        (err: unknown) => live && setState((s) => ({ ...s, error: describeError(err) })),
      );
    };
    load();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [client, job.id, finished]);
  return state;
}

function Attempts(props: { d: Delivery }): React.ReactElement {
  const trans = useTrans();
  return (
    <ol className={`${CLASS}-attempts`}>
      {props.d.attempts.map((a) => (
        <li key={a.attempt}>
          {clock(a.at)} {a.statusCode !== undefined ? trans.__('HTTP %1', a.statusCode) : ''} {a.error ?? ''}
        </li>
      ))}
    </ol>
  );
}

/** The section component, over the API's deliveries. */
export function jobDeliveriesSection(client: NotificationsClient): React.ComponentType<{ job: Job }> {
  return function JobDeliveries(props: { job: Job }): React.ReactElement | null {
    const trans = useTrans();
    const { items, error } = useDeliveries(client, props.job);
    if (!items.length && !error) return null;
    const states: Record<Delivery['state'], string> = {
      pending: trans.__('retrying'),
      delivered: trans.__('delivered'),
      failed: trans.__('not delivered'),
    };
    return (
      <div className={CLASS}>
        <h3>{trans.__('Notifications')}</h3>
        {error ? <p role="alert">{error}</p> : null}
        <table className={`${CLASS}-table`} aria-label={trans.__('Notifications of job %1', props.job.id)}>
          <thead>
            <tr>
              <th scope="col">{trans.__('Target')}</th>
              <th scope="col">{trans.__('On')}</th>
              <th scope="col">{trans.__('State')}</th>
              <th scope="col">{trans.__('Attempts')}</th>
              <th scope="col">{trans.__('Next try')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-target={d.target}>
                <td>
                  {d.target}
                  {d.kind ? ` (${d.kind})` : ''}
                </td>
                <td>{d.on}</td>
                <td className={`jp-mod-${d.state}`}>
                  {states[d.state]}
                  {d.state === 'failed' && d.error ? `: ${d.error}` : ''}
                </td>
                <td>
                  <Attempts d={d} />
                </td>
                <td>{d.nextAttemptAt ? clock(d.nextAttemptAt) : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    );
  };
}
