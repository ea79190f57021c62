/** What the compiled spec says about each task reaches its frozen base (the runner's task.json). */
import { freezeJob } from '../src/jobs/freeze.js';

function nb(cells: { source: string; tags?: string[] }[]): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((c, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: c.tags ? { tags: c.tags } : {},
      source: c.source,
      outputs: [],
      execution_count: null,
    })),
  };
}

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
