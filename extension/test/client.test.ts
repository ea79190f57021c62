import type { Job, JobSummary } from '@cellpipe/schema';
import {
  CellpipeClient,
  describeError,
  InvalidResponseError,
  NetworkError,
  ApiError,
  type Fetcher,
} from '../src/api/client.js';

const summary: JobSummary = {
  id: 'abc123def',
  name: 'quickstart',
  owner: 'ada',
  state: 'running',
  executor: 'local',
  createdAt: '2026-01-01T00:00:00.000Z',
  taskCounts: { pending: 0, queued: 0, running: 1, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 },
};

const job: Job = {
  ...summary,
  parameters: {},
  pipeline: {
    apiVersion: 'cellpipe.io/v1',
    kind: 'Pipeline',
    metadata: { name: 'quickstart' },
    spec: {
      setupCells: [],
      parameters: {},
      defaults: {},
      failurePolicy: 'continue',
      tasks: [
        {
          name: 'train',
          source: { kind: 'cells' },
          cells: [1],
          dependsOn: [],
          inputs: [],
          inputsFrom: {},
          readOnlyInputs: [],
          outputs: [],
          definitions: [],
          outputOrigins: {},
          resources: {},
          env: {},
          retries: 0,
        },
      ],
    },
  },
  tasks: [
    {
      name: 'train',
      state: 'running',
      dependsOn: [],
      resources: {},
      attempt: 1,
      maxAttempts: 1,
      outputs: [],
      artifacts: [],
    },
  ],
};

interface Call {
  path: string;
  init: RequestInit;
}

/** A fetcher answering every request with one reply, recording the calls. */
function fakeFetch(reply: () => Response | Promise<Response>): { fetcher: Fetcher; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetcher: async (path, init) => {
      calls.push({ path, init });
      return reply();
    },
  };
}

const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('CellpipeClient.requestAPI', () => {
  it('given a valid reply, when listing jobs, then it returns the parsed list and sends the query', async () => {
    const { fetcher, calls } = fakeFetch(() => json(200, { items: [summary], total: 7 }));
    const list = await new CellpipeClient(fetcher).listJobs({ states: ['running'], limit: 5 });
    expect(list).toEqual({ items: [summary], total: 7 });
    expect(calls[0]?.path).toBe('api/jobs?state=running&limit=5');
    expect(calls[0]?.init.method).toBe('GET');
  });

  it("sends the job list's filters under the API's names", async () => {
    const { fetcher, calls } = fakeFetch(() => json(200, { items: [] }));
    await new CellpipeClient(fetcher).listJobs({
      states: ['failed', 'cancelled'],
      q: '  resnet  ',
      user: 'bob',
      since: '2024-05-01T00:00:00.000Z',
      limit: 50,
      cursor: 'czEw',
    });
    const url = new URL(calls[0]!.path, 'http://x/');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      state: 'failed,cancelled',
      q: 'resnet',
      user: 'bob',
      since: '2024-05-01T00:00:00.000Z',
      limit: '50',
      cursor: 'czEw',
    });
  });

  it('given a submit, then it POSTs JSON and parses the Job', async () => {
    const { fetcher, calls } = fakeFetch(() => json(201, job));
    const created = await new CellpipeClient(fetcher).submitJob({
      notebook: { path: 'a.ipynb', content: { cells: [] } },
      parameters: { lr: 0.1 },
    });
    expect(created.id).toBe(job.id);
    expect(calls[0]?.init.method).toBe('POST');
    expect(new Headers(calls[0]?.init.headers).get('Content-Type')).toBe('application/json');
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual({
      notebook: { path: 'a.ipynb', content: { cells: [] } },
      parameters: { lr: 0.1 },
    });
  });

  it.each<[string, number, unknown, { code?: string; message: string; unreachable: boolean; unauthorized: boolean }]>([
    [
      'proxy cannot reach the server',
      502,
      { error: { code: 'unreachable', message: 'no Cellpipe server is running' } },
      { code: 'unreachable', message: 'no Cellpipe server is running', unreachable: true, unauthorized: false },
    ],
    [
      'wrong token',
      401,
      { error: { code: 'unauthorized', message: 'invalid token' } },
      { code: 'unauthorized', message: 'invalid token', unreachable: false, unauthorized: true },
    ],
    [
      'validation error',
      400,
      {
        error: {
          code: 'validation',
          message: 'spec.tasks[0].name: invalid',
          details: [{ path: 'spec.tasks.0.name', message: 'invalid' }],
        },
      },
      { code: 'validation', message: 'spec.tasks[0].name: invalid', unreachable: false, unauthorized: false },
    ],
    [
      'a non-JSON error page',
      500,
      '<html>oops</html>',
      { message: '500 error', unreachable: false, unauthorized: false },
    ],
  ])('given %s, then it throws an ApiError carrying the server message', async (_name, status, body, expected) => {
    const reply = typeof body === 'string' ? () => new Response(body, { status }) : () => json(status, body);
    const { fetcher } = fakeFetch(reply);
    const err = await new CellpipeClient(fetcher).me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const r = err as ApiError;
    expect({ code: r.code, message: r.message, unreachable: r.unreachable, unauthorized: r.unauthorized }).toEqual({
      code: expected.code,
      message: expected.message,
      unreachable: expected.unreachable,
      unauthorized: expected.unauthorized,
    });
    expect(r.status).toBe(status);
  });

  it('keeps the field details of a 400 reply, so the form can point at the field', async () => {
    const details = [
      { path: 'parameters.lr', message: 'expected a number' },
      { path: 'notebook.content', message: 'unknown after: target', cell: 3, task: 'train' },
    ];
    const { fetcher } = fakeFetch(() => json(400, { error: { code: 'invalid', message: 'bad request', details } }));
    const err = (await new CellpipeClient(fetcher).submitJob({ name: 'x' }).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.details).toEqual(details);
    expect(err.detailFor('parameters.lr')?.message).toBe('expected a number');
    expect(err.detailLines()).toEqual([
      'parameters.lr: expected a number',
      "cell 3, task 'train': unknown after: target",
    ]);
  });

  it('given a fetch that throws, then it throws a NetworkError', async () => {
    const fetcher: Fetcher = async () => {
      throw new TypeError('Failed to fetch');
    };
    const err = await new CellpipeClient(fetcher).inventory().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toBe('Failed to fetch');
  });

  it.each<[string, () => Response]>([
    ['a body of the wrong shape', () => json(200, { items: [{ id: 'NOT A JOB ID' }] })],
    ['a body that is not JSON', () => new Response('hello', { status: 200 })],
  ])('given %s, then it throws InvalidResponseError instead of returning it', async (_name, reply) => {
    const { fetcher } = fakeFetch(reply);
    await expect(new CellpipeClient(fetcher).listJobs()).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('names the failing field of a bad reply', async () => {
    const { fetcher } = fakeFetch(() =>
      json(200, { ...summary, state: 'exploded', tasks: [], pipeline: job.pipeline, parameters: {} }),
    );
    await expect(new CellpipeClient(fetcher).getJob('abc123def')).rejects.toThrow(/state/);
  });

  it('DELETE with 204 resolves without parsing a body', async () => {
    const { fetcher, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    await expect(new CellpipeClient(fetcher).deleteJob('abc123def')).resolves.toBeUndefined();
    expect(calls[0]).toMatchObject({ path: 'api/jobs/abc123def', init: { method: 'DELETE' } });
  });

  it('re-run sends the mode', async () => {
    const { fetcher, calls } = fakeFetch(() => json(201, job));
    await new CellpipeClient(fetcher).rerunJob('abc123def', 'failed');
    expect(calls[0]?.path).toBe('api/jobs/abc123def/rerun');
    expect(JSON.parse(String(calls[0]?.init.body))).toEqual({ mode: 'failed' });
  });

  it('cancels one task with a POST to its own path', async () => {
    const { fetcher, calls } = fakeFetch(() => json(200, job));
    await new CellpipeClient(fetcher).cancelTask('abc123def', 'a/b');
    expect(calls[0]?.path).toBe('api/jobs/abc123def/tasks/a%2Fb/cancel');
    expect(calls[0]?.init.method).toBe('POST');
  });

  it('escapes ids and task names in paths', () => {
    const client = new CellpipeClient(fakeFetch(() => json(200, {})).fetcher);
    expect(client.taskPath('abc123def', 'a/b', 'logs')).toBe('api/jobs/abc123def/tasks/a%2Fb/logs');
  });
});

describe('CellpipeClient.streamLogs', () => {
  it('delivers the body chunk by chunk and asks to follow', async () => {
    const chunks = ['[cellpipe] cell 1\n', 'tick 0\n', 'tick 1\n'];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
    const { fetcher, calls } = fakeFetch(() => new Response(body, { status: 200 }));
    const seen: string[] = [];
    await new CellpipeClient(fetcher).streamLogs('abc123def', 'train', { follow: true, onText: (t) => seen.push(t) });
    expect(seen.join('')).toBe(chunks.join(''));
    expect(calls[0]?.path).toBe('api/jobs/abc123def/tasks/train/logs?follow=1');
  });

  it('a 404 becomes a ApiError', async () => {
    const { fetcher } = fakeFetch(() => json(404, { error: { code: 'not_found', message: 'no such task' } }));
    await expect(
      new CellpipeClient(fetcher).streamLogs('abc123def', 'x', { follow: false, onText: () => undefined }),
    ).rejects.toThrow('no such task');
  });
});

describe('describeError', () => {
  it.each<[unknown, string]>([
    [new ApiError(502, 'unreachable', 'connection refused'), 'The Cellpipe server is unreachable: connection refused'],
    [new ApiError(401, 'unauthorized', 'invalid token'), 'The Cellpipe server refused the token (401): invalid token'],
    [new ApiError(400, 'validation', 'bad'), 'bad'],
    [new NetworkError('Failed to fetch'), 'Cannot reach the Jupyter server: Failed to fetch'],
    ['plain', 'plain'],
  ])('describes %p', (err, text) => {
    expect(describeError(err)).toBe(text);
  });
});

describe('a Jupyter server without the Cellpipe server extension', () => {
  it('reads as "no API here", not as a job that was not found', async () => {
    const { fetcher } = fakeFetch(() => new Response('<html>404: Not Found</html>', { status: 404 }));
    const err = await new CellpipeClient(fetcher).me().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).noApi).toBe(true);
    expect(describeError(err)).toMatch(/cellpipe_jupyterlab server extension/);
  });

  it('an API 404 with a code is an ordinary error', async () => {
    const { fetcher } = fakeFetch(() => json(404, { error: { code: 'not_found', message: 'job not found' } }));
    const err = (await new CellpipeClient(fetcher).getJob('abc123def').catch((e: unknown) => e)) as ApiError;
    expect([err.noApi, describeError(err)]).toEqual([false, 'job not found']);
  });
});
