/** The monitor's tab registry: other plugins add tabs by rank and remove them by disposing. */
import { MonitorTabRegistry, type IMonitorTab } from '../src/monitor/tabs.js';

// The registry never creates widgets (the monitor panel does), so no DOM is needed here.
const tab = (id: string, rank: number): IMonitorTab => ({
  id,
  label: id,
  rank,
  create: () => {
    throw new Error('not created by the registry');
  },
});

describe('MonitorTabRegistry', () => {
  it('given tabs added in any order, then they are listed by rank, equal ranks in registration order', () => {
    const registry = new MonitorTabRegistry();
    registry.add(tab('resources', 200));
    registry.add(tab('jobs', 100));
    registry.add(tab('schedules', 300));
    registry.add(tab('pipelines', 300));
    expect(registry.tabs.map((t) => t.id)).toEqual(['jobs', 'resources', 'schedules', 'pipelines']);
  });

  it('when a tab is disposed, then it is gone and the change is announced', () => {
    const registry = new MonitorTabRegistry();
    registry.add(tab('jobs', 100));
    const schedules = registry.add(tab('schedules', 300));
    const emissions: string[][] = [];
    registry.changed.connect(() => emissions.push(registry.tabs.map((t) => t.id)));
    schedules.dispose();
    schedules.dispose();
    expect(emissions).toEqual([['jobs']]);
  });

  it('refuses a second tab with the same id', () => {
    const registry = new MonitorTabRegistry();
    registry.add(tab('jobs', 100));
    expect(() => registry.add(tab('jobs', 50))).toThrow("a monitor tab 'jobs' is already registered");
  });
});
