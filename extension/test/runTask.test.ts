import { initialRunTaskForm, singleTaskPipeline, type RunTaskForm } from '../src/runTask.js';

const base = (over: Partial<RunTaskForm> = {}): RunTaskForm => ({
  ...initialRunTaskForm('work/My Model.ipynb', {}),
  ...over,
});

describe('Run as Cellpipe Task', () => {
  it('prefills the task name from the file and the resources from the settings', () => {
    expect(initialRunTaskForm('a/train.py', { gpu: 1, cpu: '2', memory: '8Gi', mig: '', image: 'x/y:1' })).toEqual({
      name: 'train',
      gpus: '1',
      mig: '',
      cpu: '2',
      memory: '8Gi',
      image: 'x/y:1',
      timeout: '',
      retries: '',
    });
  });

  it.each<[string, string, 'notebook' | 'script']>([
    ['work/My Model.ipynb', 'My Model.ipynb', 'notebook'],
    ['scripts/train.py', 'train.py', 'script'],
  ])('builds a one-task pipeline for %s', (path, file, kind) => {
    const built = singleTaskPipeline(path, { ...initialRunTaskForm(path, {}), gpus: '2', timeout: '1h', retries: '1' });
    if ('errors' in built) throw new Error(built.errors.join());
    expect(built.file).toBe(file);
    expect(built.pipeline.spec.tasks).toHaveLength(1);
    expect(built.pipeline.spec.tasks[0]).toMatchObject({
      source: { kind, path: file },
      resources: { gpu: 2 },
      timeout: '1h',
      retries: 1,
    });
  });

  it.each<[Partial<RunTaskForm>, RegExp]>([
    [{ gpus: 'two' }, /GPUs: use a whole number/],
    [{ mig: '3g' }, /resources\.mig: MIG profile must look like/],
    [{ gpus: '1', mig: '3g.20gb' }, /not both/],
    [{ memory: 'lots' }, /memory must be a Kubernetes quantity/],
    [{ name: '9lives' }, /task names start with a letter/],
  ])('reports bad input %j with the field', (over, message) => {
    const built = singleTaskPipeline('a.ipynb', base(over));
    expect('errors' in built && built.errors.join('\n')).toMatch(message);
  });
});
