/** The executor contract, run by the local executor: real runner processes on this machine. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LaunchSpec } from '../src/executors/executor.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { parseDeclaredGpus } from '../src/gpu/inventory.js';
import { describeExecutorContract, type Behaviour } from './executor-contract.js';

let root = '';
let seq = 0;

function code(b: Behaviour): string {
  if (b.kind === 'succeed') return 'x = 1\n';
  if (b.kind === 'fail') return 'raise RuntimeError("the task failed on purpose")\n';
  return `import time\ntime.sleep(${b.seconds})\n`;
}

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
  launch(behaviour, options = {}): LaunchSpec {
    const jobId = 'contract';
    const taskName = `t${++seq}`;
    const taskDir = join(root, taskName, 'attempt-1');
    const artifactRoot = join(root, 'artifacts');
    mkdirSync(taskDir, { recursive: true });
    mkdirSync(join(artifactRoot, taskName, 'files'), { recursive: true });
    const padding = options.payloadBytes ? `pad = ${JSON.stringify('x'.repeat(options.payloadBytes))}\n` : '';
    const taskJson = {
      jobId,
      taskId: `${jobId}.${taskName}`,
      taskName,
      attempt: 1,
      kind: 'cells',
      setup: [],
      cells: [{ index: 0, source: padding + code(behaviour) }],
      cellOffset: 1,
      inputs: [],
      outputs: [],
      parameters: {},
      parametersCell: null,
      artifactRoot,
      outputDir: join(artifactRoot, taskName),
      resultPath: join(taskDir, 'result.json'),
      notebookPath: join(taskDir, 'executed.ipynb'),
    };
    const payload = JSON.stringify(taskJson);
    writeFileSync(join(taskDir, 'task.json'), payload);
    return {
      jobId,
      taskName,
      taskId: `${jobId}.${taskName}`,
      attempt: 1,
      owner: 'alice',
      resources: options.resources ?? {},
      env: {},
      taskDir,
      payload: { 'task.json': payload },
      logPath: join(root, taskName, 'attempt-1.log'),
      resultPath: taskJson.resultPath,
      artifactRoot,
    };
  },
});
