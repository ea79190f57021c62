/** Configuration layers: flags > CELLPIPE_* environment > file (YAML/JSON) > defaults, validated up front. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, NOTIFICATION_DEFAULTS, ServerConfigSchema, loadConfig } from '../src/config.js';
import { DEFAULT_LIMITS } from '../src/limits.js';
import { defaultRunnerPath } from '../src/executors/local/local-executor.js';
import { EXECUTOR_NAMES, createExecutor } from '../src/executors/registry.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellpipe-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('defaults: loopback, port 8765, local executor, home from CELLPIPE_HOME', () => {
  const config = loadConfig({ env: { CELLPIPE_HOME: dir } });
  expect(config).toEqual({
    home: dir,
    host: '127.0.0.1',
    port: 8765,
    executor: 'local',
    bodyLimit: '20mb',
    auth: 'token',
    tokens: [],
    homeToken: true,
    basePath: '/',
    teams: {},
    inventoryHolders: 'all',
    auditRetentionDays: 90,
    passEnv: [],
    limits: DEFAULT_LIMITS,
    notifications: NOTIFICATION_DEFAULTS,
  });
});

test('labUrl and notifications: from the file and CELLPIPE_LAB_URL; bad values name their field', () => {
  const file = join(dir, 'n.yaml');
  writeFileSync(
    file,
    'labUrl: https://hub.example.org/hub/user-redirect\nnotifications: {firstRetry: 5s, privateNetworks: all}\n',
  );
  expect(loadConfig({ configFile: file, env: { CELLPIPE_HOME: dir } })).toMatchObject({
    labUrl: 'https://hub.example.org/hub/user-redirect',
    notifications: { ...NOTIFICATION_DEFAULTS, firstRetry: '5s', privateNetworks: 'all' },
  });
  expect(
    loadConfig({ configFile: file, env: { CELLPIPE_HOME: dir, CELLPIPE_LAB_URL: 'http://localhost:8888' } }).labUrl,
  ).toBe('http://localhost:8888');
  expect(() => loadConfig({ env: { CELLPIPE_HOME: dir, CELLPIPE_LAB_URL: 'lab' } })).toThrow(
    'CELLPIPE_LAB_URL: must be an absolute http(s) URL such as https://hub.example.org/hub/user-redirect',
  );
  writeFileSync(file, 'notifications: {giveUpAfter: soon}\n');
  expect(() => loadConfig({ configFile: file, env: { CELLPIPE_HOME: dir } })).toThrow(
    /notifications\.giveUpAfter: duration must look like/,
  );
});

test('flags beat the environment, which beats the file', () => {
  const file = join(dir, 'c.yaml');
  writeFileSync(
    file,
    'port: 9000\nhost: 0.0.0.0\npython: /usr/bin/python3\ngpus: "gpu:1"\ntokens:\n  - {token: file-token-1, user: carol}\n',
  );
  const env = {
    CELLPIPE_HOME: dir,
    CELLPIPE_PORT: '9100',
    CELLPIPE_GPUS: 'gpu:2',
    CELLPIPE_TOKENS: 'env-token-1=dave:admin',
  };
  const config = loadConfig({ env, configFile: file, flags: { port: 9200, executor: undefined } });
  expect(config.port).toBe(9200);
  expect(config.host).toBe('0.0.0.0');
  expect(config.gpus).toBe('gpu:2');
  expect(config.python).toBe('/usr/bin/python3');
  expect(config.tokens).toEqual([{ token: 'env-token-1', user: 'dave', admin: true, groups: [] }]);
});

test("the kubernetes section merges by key: --kubeconfig and --context keep the file's other settings", () => {
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'executor: kubernetes\nkubernetes:\n  namespace: tasks\n  context: from-file\n');
  const config = loadConfig({
    env: { CELLPIPE_HOME: dir },
    configFile: file,
    flags: { kubernetes: { kubeconfig: '/etc/kube/config', context: 'prod' } },
  });
  expect(config.kubernetes).toEqual({ namespace: 'tasks', kubeconfig: '/etc/kube/config', context: 'prod' });
  expect(loadConfig({ env: { CELLPIPE_HOME: dir }, configFile: file }).kubernetes).toEqual({
    namespace: 'tasks',
    context: 'from-file',
  });
});

test('JSON files, and $home/config.yaml found without --config', () => {
  const json = join(dir, 'c.json');
  writeFileSync(json, JSON.stringify({ executor: 'kubernetes', kubernetes: { namespace: 'jobs' } }));
  expect(loadConfig({ env: { CELLPIPE_HOME: dir }, configFile: json })).toMatchObject({
    executor: 'kubernetes',
    kubernetes: { namespace: 'jobs' },
  });
  writeFileSync(join(dir, 'config.yaml'), 'maxParallelPerUser: 3\n');
  expect(loadConfig({ env: { CELLPIPE_HOME: dir } }).maxParallelPerUser).toBe(3);
});

test('unknown keys and bad values fail fast, naming where they came from', () => {
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'prot: 9000\n');
  expect(() => loadConfig({ env: { CELLPIPE_HOME: dir }, configFile: file })).toThrow(
    `invalid configuration in config file ${file}:\n  (top level): Unrecognized key: "prot"`,
  );
  expect(() => loadConfig({ env: { CELLPIPE_HOME: dir, CELLPIPE_PORT: 'eighty' } })).toThrow(
    'invalid configuration in the environment:\n  CELLPIPE_PORT: Invalid input: expected number, received string',
  );
  expect(() => loadConfig({ env: { CELLPIPE_HOME: dir }, flags: { executor: 'docker' } })).toThrow(
    /command-line flags:\n {2}executor: /,
  );
  expect(() => loadConfig({ env: { CELLPIPE_HOME: dir }, configFile: join(dir, 'missing.yaml') })).toThrow(
    `config file ${join(dir, 'missing.yaml')} does not exist`,
  );
  writeFileSync(file, 'port: [1\n');
  expect(() => loadConfig({ env: { CELLPIPE_HOME: dir }, configFile: file })).toThrow(/is not valid YAML/);
});

describe('the executor registry builds executors from the configuration', () => {
  const context = (input: Record<string, unknown>) => ({
    config: ServerConfigSchema.parse({ home: dir, ...input }),
    runnerPath: defaultRunnerPath(),
    warn: () => undefined,
  });

  test('every registered executor is a valid `executor:` value and nothing else is', () => {
    expect(EXECUTOR_NAMES).toEqual(['local', 'kubernetes']);
    for (const name of EXECUTOR_NAMES)
      expect(ServerConfigSchema.parse({ home: dir, executor: name }).executor).toBe(name);
    expect(ServerConfigSchema.safeParse({ home: dir, executor: 'docker' }).success).toBe(false);
  });

  test('local: the declared GPUs and its own section', async () => {
    const ex = await createExecutor('local', context({ gpus: 'gpu:2', local: { maxTasks: 3, killGraceMs: 100 } }));
    try {
      expect(ex.name).toBe('local');
      expect((await ex.inventory()).resources).toEqual([
        expect.objectContaining({ resource: 'nvidia.com/gpu', allocatable: 2, free: 2 }),
      ]);
    } finally {
      await ex.close();
    }
  });

  test("a bad section is refused with the field's path", async () => {
    await expect(createExecutor('local', context({ local: { maxTasks: 0 } }))).rejects.toThrow(
      /invalid local executor configuration:\n {2}local\.maxTasks: /,
    );
    await expect(createExecutor('local', context({ local: { killGrace: 1 } }))).rejects.toThrow(ConfigError);
    await expect(createExecutor('local', context({ gpus: 'tpu:1' }))).rejects.toThrow(/bad GPU declaration "tpu:1"/);
    await expect(createExecutor('kubernetes', context({ kubernetes: { namespace: 'Not_A_Label' } }))).rejects.toThrow(
      /invalid kubernetes executor configuration:\n {2}kubernetes\.namespace: must be a DNS label/,
    );
  });

  test.each<[string, Record<string, unknown>, RegExp]>([
    [
      'the server store without the URL pods reach the server at',
      {},
      /^kubernetes\.serverUrl: required with the server data store/,
    ],
    ['a serverUrl that is not http(s)', { serverUrl: 'ftp://cellpipe' }, /kubernetes\.serverUrl: must be an http/],
    [
      'the volume store without a volume',
      { dataStore: 'volume' },
      /kubernetes\.dataVolume: is required with dataStore: volume/,
    ],
    [
      'a volume with two sources',
      { dataVolume: { claimName: 'jobs', hostPath: '/srv', mountPath: '/srv' } },
      /kubernetes\.dataVolume: give exactly one of claimName, nfs or hostPath/,
    ],
    [
      'a volume the server store would not use',
      { dataStore: 'server', serverUrl: 'http://cellpipe:8765', dataVolume: { claimName: 'jobs', mountPath: '/srv' } },
      /kubernetes\.dataVolume: is only used with dataStore: volume/,
    ],
    [
      "a volume that does not hold the server's job files",
      { dataVolume: { nfs: { server: 'nfs.example.org', path: '/exports' }, mountPath: '/elsewhere' } },
      /kubernetes\.dataVolume\.mountPath: \/elsewhere does not hold this server's job files/,
    ],
  ])('kubernetes: %s is refused, naming the setting', async (_what, kubernetes, message) => {
    await expect(createExecutor('kubernetes', context({ kubernetes }))).rejects.toThrow(message);
  });
});
