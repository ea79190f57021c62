import { cellSettings } from '@cellpipe/schema';
import {
  applyFormToTags,
  badgeText,
  clearFormTags,
  EMPTY_FORM,
  formFromTags,
  isFormTag,
  parseDependsOn,
  strayTags,
  tagsFromForm,
  type TaskForm,
} from '../src/tags.js';

const form = (over: Partial<TaskForm>): TaskForm => ({ ...EMPTY_FORM, ...over });

describe('formFromTags', () => {
  it.each<[string, unknown, Partial<TaskForm>]>([
    ['no tags', undefined, {}],
    ['not a list', 'task:x', {}],
    ['task name', ['task:train'], { task: 'train' }],
    ['dependencies joined', ['task:b', 'after:a', 'after:c'], { task: 'b', dependsOn: 'a, c' }],
    ['duplicate dependency once', ['after:a', 'after:a'], { dependsOn: 'a' }],
    ['whole GPUs', ['gpu:2'], { gpus: '2' }],
    ['MIG slice', ['mig:3g.20gb'], { mig: '3g.20gb' }],
    ['cpu and memory', ['cpu:500m', 'memory:16Gi'], { cpu: '500m', memory: '16Gi' }],
    [
      'image, retries, timeout',
      ['image:reg/img:1', 'retries:3', 'timeout:1h30m'],
      { image: 'reg/img:1', retries: '3', timeout: '1h30m' },
    ],
    ['flags', ['setup', 'skip'], { setup: true, skip: true }],
    ['keyword case and spaces', ['Task: train '], { task: 'train' }],
    ['foreign tags ignored', ['hide-input', 'parameters', 'env:A=1'], {}],
    ['non-string entries ignored', [1, null, 'task:t'], { task: 't' }],
  ])('given %s, reads the form', (_name, tags, expected) => {
    expect(formFromTags(tags)).toEqual(form(expected));
  });
});

describe('tagsFromForm', () => {
  it.each<[string, Partial<TaskForm>, string[]]>([
    ['empty form gives no tags', {}, []],
    ['task with deps', { task: 'train', dependsOn: 'prep, load' }, ['task:train', 'after:prep', 'after:load']],
    ['deps separated by spaces and commas', { dependsOn: ' a,b  c,,a ' }, ['after:a', 'after:b', 'after:c']],
    ['resources trimmed', { gpus: ' 1 ', cpu: '2', memory: '8Gi' }, ['gpu:1', 'cpu:2', 'memory:8Gi']],
    ['MIG', { task: 't', mig: '1g.10gb' }, ['task:t', 'mig:1g.10gb']],
    ['setup first, skip last', { setup: true, skip: true, task: 't' }, ['setup', 'task:t', 'skip']],
    [
      'image retries timeout',
      { image: 'x/y:z', retries: '2', timeout: '90m' },
      ['image:x/y:z', 'retries:2', 'timeout:90m'],
    ],
  ])('given %s', (_name, over, expected) => {
    expect(tagsFromForm(form(over))).toEqual(expected);
  });
});

describe('applyFormToTags', () => {
  it("keeps other tools' tags, parameters and env tags in place and replaces the form's own", () => {
    const before = ['hide-input', 'task:old', 'parameters', 'gpu:4', 'env:A=1', 'after:x'];
    const after = applyFormToTags(before, form({ task: 'new', mig: '3g.20gb' }));
    expect(after).toEqual(['hide-input', 'parameters', 'env:A=1', 'task:new', 'mig:3g.20gb']);
  });

  it("Clear removes only the form's tags", () => {
    expect(clearFormTags(['task:t', 'skip', 'remove-cell', 'after:a', 'setup'])).toEqual(['remove-cell']);
  });

  it.each<[string[]]>([
    [['task:train', 'after:prep', 'gpu:1']],
    [['setup']],
    [['task:a', 'mig:1g.5gb+me', 'cpu:0.5', 'memory:512Mi', 'image:reg.io/t/i:2', 'retries:1', 'timeout:2h', 'skip']],
    [[]],
  ])('round trip: tags %j → form → tags is the identity on canonical tags', (tags) => {
    expect(applyFormToTags(tags, formFromTags(tags))).toEqual(tags);
  });

  it("what the form writes is valid for the compiler's tag grammar", () => {
    const tags = applyFormToTags(
      [],
      form({ task: 'train', dependsOn: 'prep', gpus: '1', cpu: '2', memory: '8Gi', retries: '2', timeout: '90m' }),
    );
    const { settings, errors } = cellSettings({ tags });
    expect(errors).toEqual([]);
    expect(settings).toMatchObject({
      task: 'train',
      after: ['prep'],
      resources: { gpu: 1, cpu: '2', memory: '8Gi' },
      retries: 2,
      timeout: '90m',
    });
  });

  it("invalid values reach the compiler's checks with a message naming the tag", () => {
    const tags = applyFormToTags([], form({ task: 'train', gpus: 'two' }));
    const { errors } = cellSettings({ tags });
    expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('gpu:two')]);
  });
});

describe('helpers', () => {
  it.each<[string, boolean]>([
    ['task:x', true],
    ['task', false],
    ['setup', true],
    ['setup:yes', false],
    ['after:a', true],
    ['parameters', false],
    ['env:A=1', false],
    ['hide-input', false],
  ])('isFormTag(%s) is %s', (tag, expected) => {
    expect(isFormTag(tag)).toBe(expected);
  });

  it('parseDependsOn drops empties and duplicates', () => {
    expect(parseDependsOn('a, b,,a  c')).toEqual(['a', 'b', 'c']);
  });

  it.each<[Partial<TaskForm>, string | null]>([
    [{}, null],
    [{ task: 'train' }, 'train'],
    [{ task: 'train', gpus: '2' }, 'train · 2 GPU'],
    [{ task: 'train', gpus: '0' }, 'train'],
    [{ task: 'train', mig: '3g.20gb' }, 'train · MIG 3g.20gb'],
  ])('badgeText(%j) is %s', (over, expected) => {
    expect(badgeText(form(over))).toBe(expected);
  });
});

describe('strayTags', () => {
  it('lists only the tags the form does not own that the check rejects', () => {
    const invalid = (t: string): boolean => t.startsWith('gpus');
    expect(strayTags(['gpus:2', 'task:a', 'hide-input', 'gpus'], invalid)).toEqual(['gpus:2', 'gpus']);
    expect(strayTags('x', invalid)).toEqual([]);
  });
});
