/**
 * The monitor's tabs ("Jobs", "Resources", and whatever other plugins add: schedules, pipelines).
 * A tab is a factory, so it can be registered before the monitor is first opened; the registry keeps
 * them ordered by rank and says when the set changes.
 */
import type { Widget } from '@lumino/widgets';
import { RankedRegistry } from './registry.js';

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

export class MonitorTabRegistry extends RankedRegistry<IMonitorTab> {
  constructor() {
    super('a monitor tab');
  }

  /** The tabs, lowest rank first (registration order among equal ranks). */
  get tabs(): readonly IMonitorTab[] {
    return this.items;
  }
}
