/**
 * Left sidebar "Cellpipe Pipeline": the current notebook's task graph (top to bottom, readable at the
 * sidebar's width, kept through errors), its problems, its parameters and "Run as Pipeline". Small
 * function components over the `PipelineModel`.
 */
import { formatDiagnostic, type TargetList } from '@cellpipe/schema';
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { TaskGraph } from '../components/TaskGraph.js';
import { stateLabel } from '../components/jobs/format.js';
import { NotifyField } from '../notifications/NotifyField.js';
import type { PipelineModel } from '../pipeline/model.js';
import { TransContext, useTrans } from '../translation.js';

const CLASS = 'jp-cellpipe-Pipeline';

export interface PipelinePanelActions {
  run(): Promise<void>;
  /** Opens "Schedule…" for the current notebook. */
  schedule(): Promise<void>;
  openTaskEditor(): void;
  openGraphInMain(): void;
  /** Changes the "stay in the notebook after Run" setting. */
  setStayInNotebook(value: boolean): void;
  /** The notification targets the user may name in the Notify field. */
  notifyTargets(): Promise<TargetList>;
}

/** The notebook's graph wired to the model: a click on a task shows its first cell. */
export function NotebookGraph(props: {
  model: PipelineModel;
  direction: 'TB' | 'LR';
  onOpenInMain?: () => void;
}): React.ReactElement | null {
  const trans = useTrans();
  const { model } = props;
  const graph = model.graph;
  if (!graph) return null;
  const name = model.result?.pipeline?.metadata.name ?? model.path ?? '';
  return (
    <TaskGraph
      graph={graph}
      direction={props.direction}
      label={trans.__('Tasks of %1', name)}
      onActivate={(node) => {
        if (node.cell !== undefined) void model.revealCell(node.cell);
      }}
      onOpenInMain={props.onOpenInMain}
      stateText={(s) => (s === 'planned' ? trans.__('not run yet') : stateLabel(s, trans))}
    />
  );
}

function GraphSection(props: { model: PipelineModel; actions: PipelinePanelActions }): React.ReactElement {
  const trans = useTrans();
  return (
    <section className={`${CLASS}-graph`} aria-label={trans.__('Pipeline graph')}>
      {props.model.result === null ? (
        <p className={`${CLASS}-empty`}>{trans.__('Compiling…')}</p>
      ) : (
        <NotebookGraph model={props.model} direction="TB" onOpenInMain={props.actions.openGraphInMain} />
      )}
    </section>
  );
}

function GettingStarted(props: { actions: PipelinePanelActions }): React.ReactElement {
  const trans = useTrans();
  return (
    <div className={`${CLASS}-start`}>
      <p>
        {trans.__(
          'This notebook has no tasks yet. Select the first cell of a step and give it a task name in the Cellpipe Task panel; the cells below it belong to that task until the next one.',
        )}
      </p>
      <button type="button" className="jp-mod-styled jp-mod-accept" onClick={props.actions.openTaskEditor}>
        {trans.__('Open the Cellpipe Task panel')}
      </button>
    </div>
  );
}

function ProblemsSection(props: { model: PipelineModel }): React.ReactElement {
  const trans = useTrans();
  const { model } = props;
  const diagnostics = model.diagnostics;
  const resources = model.resourceProblems;
  const none = diagnostics.length === 0 && resources.length === 0;
  return (
    <section className={`${CLASS}-problems`} aria-label={trans.__('Problems')}>
      <h3>{trans.__('Problems')}</h3>
      {none ? (
        <p className={`${CLASS}-none`}>{trans.__('No problems.')}</p>
      ) : (
        <ul>
          {diagnostics.map((d, i) => (
            <li key={`d${i}`} className={`${CLASS}-problem jp-mod-${d.severity}`}>
              <button
                type="button"
                className={`${CLASS}-problemButton`}
                onClick={() => {
                  if (d.cell !== undefined) void model.revealCell(d.cell);
                }}
              >
                {formatDiagnostic({ ...d, file: undefined })}
              </button>
            </li>
          ))}
          {resources.map((p) => (
            <li key={`r${p.task}`} className={`${CLASS}-problem jp-mod-warning`} data-problem="resources">
              <button
                type="button"
                className={`${CLASS}-problemButton`}
                onClick={() => {
                  if (p.cell !== undefined) void model.revealCell(p.cell);
                }}
              >
                {p.cell !== undefined
                  ? trans.__("cell %1, task '%2': %3", p.cell, p.task, p.message)
                  : trans.__("task '%1': %2", p.task, p.message)}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function ParametersSection(props: { model: PipelineModel }): React.ReactElement | null {
  const trans = useTrans();
  const { model } = props;
  const params = Object.entries(model.result?.pipeline?.spec.parameters ?? {});
  if (!params.length) return null;
  return (
    <section className={`${CLASS}-parameters`} aria-label={trans.__('Parameters')}>
      <h3>{trans.__('Parameters')}</h3>
      {params.map(([name, p]) => {
        const id = `cellpipe-param-${name}`;
        return (
          <div key={name} className={`${CLASS}-param`}>
            <label htmlFor={id}>{name}</label>
            <input
              id={id}
              className="jp-mod-styled"
              type="text"
              value={model.parameterText(name, p)}
              title={p.description ?? p.type ?? ''}
              onChange={(e) => model.setParameter(name, e.currentTarget.value)}
            />
          </div>
        );
      })}
    </section>
  );
}

/** Why Run is disabled, or null when it is enabled. */
function runBlocked(model: PipelineModel, trans: TranslationBundle): string | null {
  const c = model.jobs.connection;
  if (c.kind === 'error' && (c.unreachable || c.noApi || c.unauthorized)) {
    return trans.__('The Cellpipe server cannot be reached: %1', c.message);
  }
  if (model.running) return trans.__('Submitting…');
  if (!model.result?.pipeline) {
    return model.noTasks
      ? trans.__('The notebook has no tasks yet.')
      : trans.__('Fix the problems above to run the pipeline.');
  }
  return null;
}

function RunSection(props: { model: PipelineModel; actions: PipelinePanelActions }): React.ReactElement {
  const trans = useTrans();
  const { model, actions } = props;
  const executor = model.jobs.inventory?.executor;
  const blocked = runBlocked(model, trans);
  const last = model.lastJob ? model.jobs.state.jobs.find((j) => j.id === model.lastJob) : undefined;
  return (
    <section className={`${CLASS}-run`} aria-label={trans.__('Run')}>
      <div className={`${CLASS}-target`}>
        {trans.__(
          'Runs on: %1',
          executor === 'local'
            ? trans.__('this machine')
            : executor === 'kubernetes'
              ? trans.__('the Kubernetes cluster')
              : (executor ?? trans.__('unknown (server unavailable)')),
        )}
      </div>
      <button
        type="button"
        className={`${CLASS}-runButton jp-mod-styled jp-mod-accept`}
        disabled={blocked !== null}
        aria-describedby={blocked ? 'cellpipe-run-blocked' : undefined}
        title={blocked ?? trans.__('Submit this notebook as a pipeline job')}
        onClick={() => void actions.run()}
      >
        {trans.__('Run as Pipeline')}
      </button>
      {blocked && !model.running ? (
        <p id="cellpipe-run-blocked" className={`${CLASS}-blocked`}>
          {blocked}
        </p>
      ) : null}
      <label className={`${CLASS}-stay`}>
        <input
          type="checkbox"
          checked={model.stayInNotebook}
          onChange={(e) => actions.setStayInNotebook(e.currentTarget.checked)}
        />
        <span>{trans.__('Stay in the notebook after Run')}</span>
      </label>
      <button
        type="button"
        className={`${CLASS}-scheduleButton jp-mod-styled`}
        disabled={!model.result?.pipeline}
        title={
          model.result?.pipeline
            ? trans.__('Run this notebook on a schedule in the Cellpipe server')
            : trans.__('The notebook has no runnable pipeline yet')
        }
        onClick={() => void actions.schedule()}
      >
        {trans.__('Schedule…')}
      </button>
      {last ? (
        <p className={`${CLASS}-last`}>{trans.__('Last run: %1 · %2', last.id, stateLabel(last.state, trans))}</p>
      ) : null}
    </section>
  );
}

function PipelineBody(props: { model: PipelineModel; actions: PipelinePanelActions }): React.ReactElement {
  const trans = useTrans();
  const { model, actions } = props;
  const path = model.path;
  if (!path) {
    return (
      <div className={`${CLASS}-body`}>
        <h2 className={`${CLASS}-title`}>{trans.__('Cellpipe Pipeline')}</h2>
        <p className={`${CLASS}-empty`}>{trans.__('Open a notebook to see its pipeline.')}</p>
      </div>
    );
  }
  if (model.executedBy) {
    return (
      <div className={`${CLASS}-body`}>
        <h2 className={`${CLASS}-title`}>{trans.__('Cellpipe Pipeline')}</h2>
        <p className={`${CLASS}-empty`}>
          {trans.__(
            '%1 is the executed copy of a task of job %2; open the source notebook to edit or run its pipeline.',
            path,
            model.executedBy,
          )}
        </p>
      </div>
    );
  }
  const pipeline = model.result?.pipeline;
  return (
    <div className={`${CLASS}-body`}>
      <h2 className={`${CLASS}-title`}>{trans.__('Cellpipe Pipeline')}</h2>
      <div className={`${CLASS}-notebook`} title={path}>
        {pipeline ? `${pipeline.metadata.name} · ${trans._n('%1 task', '%1 tasks', pipeline.spec.tasks.length)}` : path}
      </div>
      {model.noTasks ? <GettingStarted actions={actions} /> : <GraphSection model={model} actions={actions} />}
      <ProblemsSection model={model} />
      <ParametersSection model={model} />
      {pipeline ? (
        <NotifyField
          load={actions.notifyTargets}
          value={model.notify}
          idPrefix="cellpipe-pipeline"
          onChange={(rules) => (model.notify = rules)}
        />
      ) : null}
      <RunSection model={model} actions={actions} />
    </div>
  );
}

export class PipelinePanel extends ReactWidget {
  constructor(
    private readonly model: PipelineModel,
    private readonly actions: PipelinePanelActions,
    private readonly trans: TranslationBundle,
  ) {
    super();
    this.addClass(CLASS);
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this.model.changed}>
          {() => <PipelineBody model={this.model} actions={this.actions} />}
        </UseSignal>
      </TransContext.Provider>
    );
  }
}
