/** The executor contract, run by the local executor: real runner processes on this machine. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { parseDeclaredGpus } from '../src/gpu/inventory.js';
import { describeExecutorContract, runnerLaunch } from './executor-contract.js';

let root = '';
let seq = 0;

describeExecutorContract('local', {
  async setup() {
    root = mkdtempSync(join(tmpdir(), 'cellpipe-contract-local-'));
  },
  async teardown() {
    rmSync(root, { recursive: true, force: true });
  },
  executor: () => new LocalExecutor({ devices: parseDeclaredGpus('gpu:1'), killGraceMs: 1000, pollMs: 50 }),
  impossible: { gpu: 2 },
  readsResults: true,
  launch: (behaviour, options) => runnerLaunch(root, `t${++seq}`, behaviour, options),
});
