/**
 * The monitor's tabs ("Jobs", "Resources", and whatever other plugins add: schedules, pipelines).
 * A tab is a factory, so it can be registered before the monitor is first opened; the registry keeps
 * them ordered by rank and says when the set changes.
 */
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

export interface IMonitorTab {
  /** Unique id; also `data-tab` on the tab's widget and the argument of `cellpipe:open-monitor`'s `tab`. */
  id: string;
  /** The tab's title (already translated). */
  label: string;
  /** Lower ranks come first (Jobs 100, Resources 200). */
  rank: number;
  /** Creates the tab's widget; called each time a monitor is created. */
  create(): Widget;
}

export class MonitorTabRegistry {
  private readonly _tabs: IMonitorTab[] = [];
  private readonly _changed = new Signal<this, void>(this);

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The tabs, lowest rank first (registration order among equal ranks). */
  get tabs(): readonly IMonitorTab[] {
    return this._tabs;
  }

  /** @throws {Error} when a tab with the same id is already registered. */
  add(tab: IMonitorTab): IDisposable {
    if (this._tabs.some((t) => t.id === tab.id)) throw new Error(`a monitor tab '${tab.id}' is already registered`);
    const at = this._tabs.findIndex((t) => t.rank > tab.rank);
    this._tabs.splice(at < 0 ? this._tabs.length : at, 0, tab);
    this._changed.emit();
    return new DisposableDelegate(() => {
      const i = this._tabs.indexOf(tab);
      if (i < 0) return;
      this._tabs.splice(i, 1);
      this._changed.emit();
    });
  }
}
