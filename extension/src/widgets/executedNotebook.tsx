/**
 * A task's executed notebook, read-only, straight from the server: rendered with JupyterLab's own
 * notebook view (outputs through the rendermime registry, untrusted), under a banner that says what it
 * is and links to the source notebook. Nothing is written to the user's files, so no copy appears in
 * the file browser and nothing can be edited or left unsaved by mistake.
 */
import type { INotebookContent } from '@jupyterlab/nbformat';
import type { IEditorMimeTypeService } from '@jupyterlab/codeeditor';
import { ReactWidget } from '@jupyterlab/apputils';
import { NotebookModel, StaticNotebook, type NotebookPanel } from '@jupyterlab/notebook';
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Panel } from '@lumino/widgets';
import * as React from 'react';
import { TransContext, useTrans } from '../translation.js';

const CLASS = 'jp-cellpipe-Executed';

export interface ExecutedNotebookOptions {
  json: Record<string, unknown>;
  jobId: string;
  task: string;
  /** The notebook the job was submitted from, when known. */
  source?: string;
  openSource?: () => void;
  download: () => void;
  rendermime: IRenderMimeRegistry;
  contentFactory: NotebookPanel.IContentFactory;
  mimeTypeService: IEditorMimeTypeService;
  trans: TranslationBundle;
}

function Banner(props: { options: ExecutedNotebookOptions }): React.ReactElement {
  const trans = useTrans();
  const o = props.options;
  return (
    <div className={`${CLASS}-banner`} role="note">
      <span>
        {trans.__('Executed copy of task %1 of job %2 — read-only.', o.task, o.jobId)}
        {o.source ? ` ${trans.__('Source: %1', o.source)}` : ''}
      </span>
      {o.openSource ? (
        <button type="button" className="jp-mod-styled" onClick={o.openSource}>
          {trans.__('Open the source notebook')}
        </button>
      ) : null}
      <button type="button" className="jp-mod-styled" onClick={o.download}>
        {trans.__('Download .ipynb')}
      </button>
    </div>
  );
}

class BannerWidget extends ReactWidget {
  constructor(private readonly options: ExecutedNotebookOptions) {
    super();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.options.trans}>
        <Banner options={this.options} />
      </TransContext.Provider>
    );
  }
}

export class ExecutedNotebookView extends Panel {
  private readonly _model = new NotebookModel();

  constructor(options: ExecutedNotebookOptions) {
    super();
    this.addClass(CLASS);
    this.addWidget(new BannerWidget(options));
    const notebook = new StaticNotebook({
      rendermime: options.rendermime,
      contentFactory: options.contentFactory,
      mimeTypeService: options.mimeTypeService,
      // Every cell in the DOM: an executed copy is read, searched and printed whole.
      notebookConfig: { ...StaticNotebook.defaultNotebookConfig, windowingMode: 'none' },
    });
    notebook.addClass(`${CLASS}-notebook`);
    this._model.fromJSON(options.json as unknown as INotebookContent);
    notebook.model = this._model;
    for (const cell of notebook.widgets) cell.readOnly = true;
    this.addWidget(notebook);
  }

  override dispose(): void {
    if (this.isDisposed) return;
    super.dispose();
    this._model.dispose();
  }
}
