/**
 * The "Schedule…" dialog body: cron (read back in plain words) or an interval, a time zone (the
 * browser's by default), the next five fire times as the server's scheduler computes them, the
 * parameters, the version to run and the policies.
 */
import type { Parameter, SchedulePreview, TargetList } from '@cellpipe/schema';
import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { describeError } from '../api/client.js';
import type { CatalogClient } from '../api/catalog.js';
import { NotifyField } from '../notifications/NotifyField.js';
import { TransContext, useTrans } from '../translation.js';
import { browserTimeZone, describeTrigger, timeZones, type ScheduleFormValues } from './form.js';

const CLASS = 'jp-cellpipe-Schedule';
const PREVIEW_DELAY_MS = 300;

export interface ScheduleDialogOptions {
  initial: ScheduleFormValues;
  parameters: Record<string, Parameter>;
  catalog: CatalogClient;
  trans: TranslationBundle;
  /** Editing an existing schedule: the name of its pipeline and whether it is pinned already. */
  editing?: { pipeline: string };
  /** The notification targets the user may name (the field is left out without it). */
  notifyTargets?: () => Promise<TargetList>;
}

/** Dialog body; `getValue` hands the form to `showDialog`. */
export class ScheduleBody extends ReactWidget {
  private _values: ScheduleFormValues;

  constructor(private readonly options: ScheduleDialogOptions) {
    super();
    this._values = { ...options.initial, parameters: { ...options.initial.parameters } };
    this.addClass(CLASS);
  }

  getValue(): ScheduleFormValues {
    return { ...this._values, parameters: { ...this._values.parameters } };
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.options.trans}>
        <ScheduleFields
          initial={this._values}
          parameters={this.options.parameters}
          catalog={this.options.catalog}
          editing={this.options.editing}
          notifyTargets={this.options.notifyTargets}
          onChange={(v) => (this._values = v)}
        />
      </TransContext.Provider>
    );
  }
}

/** Fire times for the trigger being typed, from the server, refreshed as it changes. */
function usePreview(catalog: CatalogClient, v: ScheduleFormValues): { fires: string[]; error: string | null } {
  const [state, setState] = React.useState<{ fires: string[]; error: string | null }>({ fires: [], error: null });
  const key = v.mode === 'cron' ? `${v.cron}|${v.timezone}` : `every|${v.every}`;
  React.useEffect(() => {
    let live = true;
    const timer = window.setTimeout(() => {
      const request = v.mode === 'cron' ? { cron: v.cron, timezone: v.timezone } : { every: v.every };
      catalog.preview({ ...request, count: 5 }).then(
        (p: SchedulePreview) => live && setState({ fires: p.fires, error: null }),
        (err: unknown) => live && setState({ fires: [], error: describeError(err) }),
      );
    }, PREVIEW_DELAY_MS);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
    // The key holds everything the preview depends on.
  }, [key]);
  return state;
}

/** An instant in a zone: "Sun 29 Mar 2026, 03:00 CEST". */
function inZone(iso: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'short',
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

function Field(props: { id: string; label: string; children: React.ReactNode }): React.ReactElement {
  return (
    <div className={`${CLASS}-field`}>
      <label htmlFor={props.id}>{props.label}</label>
      {props.children}
    </div>
  );
}

/** A labelled select over a fixed set of choices. */
function Choice<T extends string>(props: {
  id: string;
  label: string;
  value: T;
  options: [T, string][];
  onChange: (value: T) => void;
}): React.ReactElement {
  return (
    <Field id={props.id} label={props.label}>
      <select
        id={props.id}
        className="jp-mod-styled"
        value={props.value}
        onChange={(e) => props.onChange(props.options.find(([v]) => v === e.currentTarget.value)?.[0] ?? props.value)}
      >
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </Field>
  );
}

function ScheduleFields(props: {
  initial: ScheduleFormValues;
  parameters: Record<string, Parameter>;
  catalog: CatalogClient;
  editing?: { pipeline: string };
  notifyTargets?: () => Promise<TargetList>;
  onChange: (v: ScheduleFormValues) => void;
}): React.ReactElement {
  const trans = useTrans();
  const [v, setV] = React.useState(props.initial);
  const zones = React.useMemo(() => timeZones(), []);
  const preview = usePreview(props.catalog, v);
  const set = (patch: Partial<ScheduleFormValues>): void => {
    const next = { ...v, ...patch };
    setV(next);
    props.onChange(next);
  };
  const text = (key: 'name' | 'cron' | 'every' | 'maxRuns' | 'pauseAfterFailures', placeholder?: string) => (
    <input
      id={`cellpipe-schedule-${key}`}
      className="jp-mod-styled"
      type="text"
      value={v[key]}
      placeholder={placeholder}
      onChange={(e) => set({ [key]: e.currentTarget.value })}
    />
  );
  return (
    <div className={`${CLASS}-fields`}>
      <Field id="cellpipe-schedule-name" label={trans.__('Name')}>
        {text('name')}
      </Field>
      <Choice
        id="cellpipe-schedule-mode"
        label={trans.__('Runs')}
        value={v.mode}
        options={[
          ['cron', trans.__('On a cron schedule')],
          ['every', trans.__('At a fixed interval')],
        ]}
        onChange={(mode) => set({ mode })}
      />
      {v.mode === 'cron' ? (
        <>
          <Field id="cellpipe-schedule-cron" label={trans.__('Cron')}>
            {text('cron', 'minute hour day month weekday')}
          </Field>
          <Field id="cellpipe-schedule-timezone" label={trans.__('Time zone')}>
            <select
              id="cellpipe-schedule-timezone"
              className="jp-mod-styled"
              value={v.timezone}
              onChange={(e) => set({ timezone: e.currentTarget.value })}
            >
              {zones.map((z) => (
                <option key={z} value={z}>
                  {z}
                </option>
              ))}
            </select>
          </Field>
        </>
      ) : (
        <Field id="cellpipe-schedule-every" label={trans.__('Every')}>
          {text('every', '90s, 15m, 6h')}
        </Field>
      )}
      <p className={`${CLASS}-reading`} aria-label={trans.__('In words')}>
        {describeTrigger(v)}
      </p>
      <section className={`${CLASS}-fires`} aria-label={trans.__('Next fire times')}>
        <h3>{trans.__('Next fire times')}</h3>
        {preview.error ? (
          <p className={`${CLASS}-error`} role="alert">
            {preview.error}
          </p>
        ) : (
          <ol>
            {preview.fires.map((f) => (
              <li key={f} title={f}>
                {inZone(f, v.mode === 'cron' ? v.timezone : browserTimeZone())}
              </li>
            ))}
          </ol>
        )}
      </section>
      {Object.keys(props.parameters).length ? (
        <section className={`${CLASS}-parameters`} aria-label={trans.__('Parameters')}>
          <h3>{trans.__('Parameters')}</h3>
          {Object.entries(props.parameters).map(([name, p]) => {
            const id = `cellpipe-schedule-param-${name}`;
            const fallback = typeof p.default === 'string' ? p.default : JSON.stringify(p.default);
            return (
              <Field key={name} id={id} label={name}>
                <input
                  id={id}
                  className="jp-mod-styled"
                  type="text"
                  value={v.parameters[name] ?? fallback}
                  onChange={(e) => set({ parameters: { ...v.parameters, [name]: e.currentTarget.value } })}
                />
              </Field>
            );
          })}
        </section>
      ) : null}
      <Choice
        id="cellpipe-schedule-version"
        label={trans.__('Version')}
        value={v.pin ? 'pin' : 'latest'}
        options={[
          ['latest', trans.__('The latest saved version at each run')],
          ['pin', props.editing ? trans.__('Keep the pinned version') : trans.__('Pin the version saved now')],
        ]}
        onChange={(choice) => set({ pin: choice === 'pin' })}
      />
      <Choice
        id="cellpipe-schedule-concurrency"
        label={trans.__('If the last run is still going')}
        value={v.concurrency}
        options={[
          ['forbid', trans.__('Skip this run')],
          ['allow', trans.__('Run anyway')],
          ['replace', trans.__('Cancel it and run')],
        ]}
        onChange={(concurrency) => set({ concurrency })}
      />
      <Choice
        id="cellpipe-schedule-catchup"
        label={trans.__('Runs missed while the server was down')}
        value={v.catchup}
        options={[
          ['skip', trans.__('Skip them')],
          ['latest', trans.__('Run the latest one')],
          ['all', trans.__('Run them all (up to 5)')],
        ]}
        onChange={(catchup) => set({ catchup })}
      />
      <Field id="cellpipe-schedule-pauseAfterFailures" label={trans.__('Pause after failed runs in a row')}>
        {text('pauseAfterFailures', trans.__('never'))}
      </Field>
      <Field id="cellpipe-schedule-maxRuns" label={trans.__('At most this many runs')}>
        {text('maxRuns', trans.__('no limit'))}
      </Field>
      <Field id="cellpipe-schedule-endAt" label={trans.__('Until')}>
        <input
          id="cellpipe-schedule-endAt"
          className="jp-mod-styled"
          type="datetime-local"
          value={v.endAt}
          onChange={(e) => set({ endAt: e.currentTarget.value })}
        />
      </Field>
      {props.notifyTargets ? (
        <NotifyField
          load={props.notifyTargets}
          value={v.notify}
          idPrefix="cellpipe-schedule"
          onChange={(notify) => set({ notify })}
        />
      ) : null}
    </div>
  );
}
