/**
 * Drives an engine running in a child process over IPC (crash tests SIGKILL it). The child sends
 * `ready`, `job` and `task` messages and answers `submit` requests with a `reply`.
 */
import type { ChildProcess } from 'node:child_process';
import type { Job, JobSummary, TaskEvent } from '@cellpipe/schema';

export interface Engine {
  child: ChildProcess;
  jobs: Map<string, JobSummary>;
  tasks: TaskEvent[];
  submit(owner: string, req: unknown): Promise<Job>;
}

/** Resolves once the child says it is ready; rejects if it exits before. */
export function attachEngine(child: ChildProcess): Promise<Engine> {
  const engine: Engine = {
    child,
    jobs: new Map(),
    tasks: [],
    submit(owner, req) {
      const id = Math.random();
      return new Promise((resolve, reject) => {
        const onMsg = (m: { type: string; id?: number; job?: Job; error?: string }): void => {
          if (m.type !== 'reply' || m.id !== id) return;
          child.off('message', onMsg);
          if (m.error) reject(new Error(m.error));
          else resolve(m.job!);
        };
        child.on('message', onMsg);
        child.send({ type: 'submit', id, owner, request: req });
      });
    },
  };
  return new Promise((resolve, reject) => {
    child.on('message', (m: { type: string; job?: JobSummary; event?: TaskEvent }) => {
      if (m.type === 'ready') resolve(engine);
      if (m.type === 'job' && m.job) engine.jobs.set(m.job.id, m.job);
      if (m.type === 'task' && m.event) engine.tasks.push(m.event);
    });
    child.once('exit', (code) => reject(new Error(`engine exited with ${String(code)} before it was ready`)));
  });
}

export function kill9(engine: Engine): Promise<void> {
  return new Promise((resolve) => {
    engine.child.once('exit', () => resolve());
    engine.child.kill('SIGKILL');
  });
}
