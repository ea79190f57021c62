/** Status bar item "Cellpipe: 4 tasks running, 39 waiting" (the server's task counts); a click opens the job monitor. */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { statusText } from '../jobs/state.js';
import type { ICellpipeJobs } from '../tokens.js';

const CLASS = 'jp-cellpipe-StatusItem';

export class CellpipeStatusItem extends ReactWidget {
  constructor(
    private readonly jobs: ICellpipeJobs,
    private readonly onOpen: () => void,
    private readonly trans: TranslationBundle,
  ) {
    super();
    this.addClass(CLASS);
  }

  protected render(): React.ReactElement {
    return (
      <UseSignal signal={this.jobs.changed}>
        {() => {
          const c = this.jobs.connection;
          const offline = c.kind === 'error';
          const text = offline ? this.trans.__('Cellpipe: offline') : statusText(this.jobs.activity, this.trans);
          const a = this.jobs.activity;
          const title =
            c.kind === 'error'
              ? c.message
              : a
                ? this.trans.__(
                    'Your Cellpipe jobs: %1 running, %2 pending. Click to open the job monitor.',
                    a.jobs.running,
                    a.jobs.pending,
                  )
                : this.trans.__('Open Cellpipe Jobs');
          return (
            <span
              className={`${CLASS}-text${offline ? ' jp-mod-offline' : ''}`}
              role="button"
              tabIndex={0}
              title={title}
              onClick={this.onOpen}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') this.onOpen();
              }}
            >
              {text}
            </span>
          );
        }}
      </UseSignal>
    );
  }
}
