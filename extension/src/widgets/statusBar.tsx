/** Status bar item "Cellpipe: 1 running, 2 queued"; a click opens the job monitor. */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import * as React from 'react';
import { activeCounts, statusText } from '../jobs/state.js';
import type { ICellpipeJobs } from '../tokens.js';

const CLASS = 'jp-cellpipe-StatusItem';

export class CellpipeStatusItem extends ReactWidget {
  constructor(
    private readonly jobs: ICellpipeJobs,
    private readonly onOpen: () => void,
  ) {
    super();
    this.addClass(CLASS);
  }

  protected render(): React.ReactElement {
    return (
      <UseSignal signal={this.jobs.changed}>
        {() => {
          const offline = this.jobs.connection.kind === 'error';
          const text = offline ? 'Cellpipe: offline' : statusText(activeCounts(this.jobs.summaries()));
          const title =
            offline && this.jobs.connection.kind === 'error' ? this.jobs.connection.message : 'Open Cellpipe Jobs';
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
