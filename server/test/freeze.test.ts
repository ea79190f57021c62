/** What the compiled spec says about each task reaches its frozen base (the runner's task.json). */
import { freezeJob } from '../src/jobs/freeze.js';
import { taggedNotebook as nb } from './jobs-fixtures.js';

test('inputs the analysis found read-only are marked readOnly; the ones a task changes are not', () => {
  const frozen = freezeJob({
    notebook: {
      path: 'fit.ipynb',
      content: nb([
        {
          source:
            'class Model:\n    def fit(self, xs):\n        self.w = sum(xs)\n    def predict(self, x):\n        return self.w * x',
        },
        { source: 'model = Model()\nxs = [1, 2]', tags: ['task:init'] },
        { source: 'model.fit(xs)', tags: ['task:train', 'readonly:xs'] },
        { source: 'print(model.predict(10), len(xs))', tags: ['task:evaluate'] },
      ]),
    },
  });
  expect(frozen.bases.get('train')?.inputs).toEqual([
    { name: 'model', from: 'init' },
    { name: 'xs', from: 'init', readOnly: true },
  ]);
  expect(frozen.bases.get('evaluate')?.inputs).toEqual([
    { name: 'model', from: 'train', readOnly: true },
    { name: 'xs', from: 'init', readOnly: true },
  ]);
});

test('definitions and output origins reach the task base', () => {
  const frozen = freezeJob({
    notebook: {
      path: 'defs.ipynb',
      content: nb([
        {
          source: 'import json\nclass Model:\n    def dump(self):\n        return json.dumps(self.w)',
          tags: ['task:defs'],
        },
        { source: 'model = Model()\nmodel.w = 1', tags: ['task:init'] },
        { source: 'print(model.dump())', tags: ['task:show'] },
      ]),
    },
  });
  // Using a class reads what its methods read (json), as a top-to-bottom run's methods would.
  expect(frozen.bases.get('init')).toMatchObject({
    definitions: [
      { kind: 'import', names: ['json'], cell: 0, line: 1, source: 'import json' },
      { kind: 'class', names: ['Model'], cell: 0, line: 2, source: expect.stringMatching(/^class Model:\n/) },
    ],
    outputOrigins: { model: 1 },
  });
  expect(frozen.bases.get('show')).toMatchObject({
    inputs: [{ name: 'model', from: 'init' }],
    definitions: [
      { kind: 'import', names: ['json'], cell: 0, line: 1, source: 'import json' },
      { kind: 'class', names: ['Model'], cell: 0, line: 2, source: expect.stringMatching(/^class Model:\n/) },
    ],
  });
  expect(frozen.bases.get('defs')).not.toHaveProperty('definitions');
  expect(frozen.bases.get('defs')).not.toHaveProperty('outputOrigins');
});
