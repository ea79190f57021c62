/** A task's log, streamed while the task runs. */
import * as React from 'react';
import type { LogView as LogState } from '../../monitor/jobsViewModel.js';
import { useTrans } from '../../translation.js';
import { MONITOR_CLASS } from './format.js';

const CLASS = MONITOR_CLASS;

export function LogView(props: { log: LogState; onClose: () => void }): React.ReactElement {
  const trans = useTrans();
  const { log } = props;
  const pre = React.useRef<HTMLPreElement>(null);
  const [follow, setFollow] = React.useState(true);
  // Keep the newest line in view while following, until the user scrolls up.
  React.useEffect(() => {
    const el = pre.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [log.text, follow]);
  return (
    <section className={`${CLASS}-log`} aria-label={trans.__('Logs of %1', log.task)}>
      <div className={`${CLASS}-logHeader`}>
        <h3>
          {trans.__('Logs of %1', log.task)}
          {log.live ? <span className={`${CLASS}-live`}> {trans.__('(live)')}</span> : null}
        </h3>
        <button type="button" className="jp-mod-styled" onClick={props.onClose}>
          {trans.__('Close log view')}
        </button>
      </div>
      {log.error ? (
        <div className={`${CLASS}-error`} role="alert">
          {log.error}
        </div>
      ) : null}
      <pre
        ref={pre}
        className={`${CLASS}-logText`}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          setFollow(el.scrollHeight - el.scrollTop - el.clientHeight < 8);
        }}
      >
        {log.text || (log.live ? trans.__('Waiting for output…') : trans.__('(no output)'))}
      </pre>
    </section>
  );
}
