/** The monitor's "Jobs" tab: the job list beside the selected job's detail, each scrolling on its own. */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { JobDetail } from '../components/jobs/JobDetail.js';
import { JobList } from '../components/jobs/JobList.js';
import { MONITOR_CLASS } from '../components/jobs/format.js';
import { TransContext, useTrans } from '../translation.js';
import type { JobsViewModel } from './jobsViewModel.js';

const CLASS = MONITOR_CLASS;

function ConnectionBanner(props: { model: JobsViewModel }): React.ReactElement | null {
  const trans = useTrans();
  const c = props.model.jobs.connection;
  if (c.kind !== 'error') return null;
  return (
    <div className={`${CLASS}-banner jp-mod-error`} role="alert">
      {c.message}
      {c.unreachable
        ? ` ${trans.__('Start the server with `cellpipe serve` (or set CELLPIPE_URL for Jupyter) and it reconnects by itself.')}`
        : ''}
      {c.unauthorized ? ` ${trans.__('Check CELLPIPE_TOKEN or $CELLPIPE_HOME/token for the Jupyter server.')}` : ''}
    </div>
  );
}

function DetailPane(props: { model: JobsViewModel }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const id = model.selected;
  const detail = id ? model.jobs.state.details[id] : undefined;
  const summary = id
    ? (model.list.items.find((j) => j.id === id) ?? model.jobs.state.jobs.find((j) => j.id === id))
    : undefined;
  return (
    <section className={`${CLASS}-detail`} aria-label={trans.__('Job detail')}>
      {model.error ? (
        <div className={`${CLASS}-error`} role="alert">
          {model.error}
        </div>
      ) : null}
      {detail ? (
        <JobDetail job={detail} model={model} />
      ) : summary ? (
        <p className={`${CLASS}-empty`}>{trans.__('Loading %1…', summary.name)}</p>
      ) : (
        <p className={`${CLASS}-empty`}>{trans.__('Select a job to see its tasks, logs and results.')}</p>
      )}
    </section>
  );
}

export function JobsTab(props: { model: JobsViewModel }): React.ReactElement {
  return (
    <div className={`${CLASS}-body`}>
      <div className="jp-cellpipe-visuallyHidden" aria-live="polite" role="status">
        {props.model.announcement}
      </div>
      <ConnectionBanner model={props.model} />
      <div className={`${CLASS}-layout`}>
        <JobList model={props.model} />
        <DetailPane model={props.model} />
      </div>
    </div>
  );
}

export class JobsView extends ReactWidget {
  constructor(
    private readonly model: JobsViewModel,
    private readonly trans: TranslationBundle,
  ) {
    super();
    this.addClass(CLASS);
  }

  protected override onAfterShow(): void {
    this.model.list.ensureLoaded();
    // Back from the notebook: it may have changed since the selected job ran.
    void this.model.checkChanges();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this.model.changed}>{() => <JobsTab model={this.model} />}</UseSignal>
      </TransContext.Provider>
    );
  }
}
