/** The schedule form: plain-language readings and the requests it sends (the server checks them again). */
import type { Parameter } from '@cellpipe/schema';
import { createRequest, defaultValues, describeTrigger, updateRequest, valuesOf } from '../src/schedules/form.js';

const declared: Record<string, Parameter> = {
  lr: { default: 0.1, type: 'number' },
  label: { default: 'nightly', type: 'string' },
};

describe('describeTrigger', () => {
  it.each([
    [{ mode: 'cron', cron: '0 2 * * *', every: '', timezone: 'Europe/Berlin' }, 'At 02:00, every day, Europe/Berlin'],
    [{ mode: 'cron', cron: '30 9 * * 1-5', every: '', timezone: 'UTC' }, 'At 09:30, Monday through Friday, UTC'],
    [{ mode: 'every', cron: '', every: '15m', timezone: 'UTC' }, 'Every 15m'],
  ] as const)('%j reads %s', (v, text) => {
    expect(describeTrigger(v)).toBe(text);
  });

  it('says why a cron cannot be read', () => {
    expect(describeTrigger({ mode: 'cron', cron: '61 * * * *', every: '', timezone: 'UTC' })).toMatch(/minute/i);
  });
});

describe('requests', () => {
  it('sends only parameters that differ from their defaults, typed as declared, and pins on request', () => {
    const v = { ...defaultValues('flow'), parameters: { lr: '0.5', label: 'nightly' }, pin: true, maxRuns: '3' };
    expect(createRequest(v, 'flow', 4, declared)).toEqual({
      name: 'flow',
      pipeline: 'flow',
      version: 4,
      cron: '0 2 * * *',
      timezone: v.timezone,
      parameters: { lr: 0.5 },
      concurrency: 'forbid',
      catchup: 'skip',
      maxRuns: 3,
      pauseAfterFailures: 3,
    });
  });

  it('an interval replaces the cron; cleared limits are sent as null on update', () => {
    const v = { ...defaultValues('flow'), mode: 'every' as const, every: '10s', pauseAfterFailures: '' };
    const patch = updateRequest(v, declared, 'latest');
    expect(patch).toMatchObject({
      every: '10s',
      pauseAfterFailures: null,
      maxRuns: null,
      endAt: null,
      version: 'latest',
    });
    expect(patch.cron).toBeUndefined();
  });

  it('a saved schedule comes back as the values it was made from', () => {
    const v = valuesOf({
      id: 'abcdef12',
      name: 'n',
      owner: 'alice',
      pipeline: 'flow',
      version: 2,
      every: '90s',
      timezone: 'UTC',
      parameters: { lr: 0.5 },
      concurrency: 'replace',
      catchup: 'all',
      maxCatchup: 5,
      keepSucceeded: 20,
      keepFailed: 20,
      maxRuns: 7,
      state: 'active',
      createdAt: '',
      updatedAt: '',
      revision: 1,
      runs: 0,
      consecutiveFailures: 0,
      nextFires: [],
    });
    expect(v).toMatchObject({
      mode: 'every',
      every: '90s',
      pin: true,
      parameters: { lr: '0.5' },
      maxRuns: '7',
      concurrency: 'replace',
    });
  });
});
