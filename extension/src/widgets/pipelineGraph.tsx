/** The current notebook's task graph in the main area: left to right, with room to read it whole. */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import type { PipelineModel } from '../pipeline/model.js';
import { TransContext, useTrans } from '../translation.js';
import { NotebookGraph } from './pipelinePanel.js';

const CLASS = 'jp-cellpipe-PipelineGraph';

function GraphView(props: { model: PipelineModel }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const name = model.result?.pipeline?.metadata.name ?? model.path ?? '';
  return (
    <section className={`${CLASS}-body`} aria-label={trans.__('Pipeline graph of %1', name)}>
      {/* The file name as the heading; where it lives (a long path) in its tooltip. */}
      <h2 className={`${CLASS}-title`} title={model.path ?? undefined}>
        {model.path ? PathExt.basename(model.path) : trans.__('No notebook')}
      </h2>
      {model.graph ? (
        <NotebookGraph model={model} direction="LR" />
      ) : (
        <p className={`${CLASS}-empty`}>{trans.__('Open a notebook with tasks to see its graph.')}</p>
      )}
    </section>
  );
}

export class PipelineGraphWidget extends ReactWidget {
  constructor(
    private readonly model: PipelineModel,
    private readonly trans: TranslationBundle,
  ) {
    super();
    this.addClass(CLASS);
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this.model.changed}>{() => <GraphView model={this.model} />}</UseSignal>
      </TransContext.Provider>
    );
  }
}
