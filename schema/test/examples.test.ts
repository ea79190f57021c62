/** The shipped examples compile to the documented pipelines and stay valid nbformat 4.5. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { compileNotebook, formatDiagnostic, type Pipeline } from '../src/index.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const read = (name: string) => readFileSync(examples + name, 'utf8');

function compileExample(name: string): Pipeline {
  const r = compileNotebook(read(name), { path: `examples/${name}` });
  expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
  return r.pipeline!;
}

describe('examples', () => {
  it.each(['quickstart.ipynb', 'gpu-mig.ipynb', 'multi-file/ingest.ipynb', 'multi-file/summarize.ipynb'])(
    '%s is nbformat 4.5 with unique cell ids',
    (name) => {
      const nb = JSON.parse(read(name)) as { nbformat: number; nbformat_minor: number; cells: { id?: string }[] };
      expect([nb.nbformat, nb.nbformat_minor]).toEqual([4, 5]);
      const ids = nb.cells.map((c) => c.id);
      expect(ids.every((id) => typeof id === 'string' && /^[a-zA-Z0-9-_]{1,64}$/.test(id))).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
    },
  );

  it('quickstart: parameters, fan-out and fan-in by variable flow', () => {
    const p = compileExample('quickstart.ipynb');
    expect(Object.keys(p.spec.parameters)).toEqual(['n_samples', 'seed', 'scale', 'bins']);
    expect(p.spec.tasks.map((t) => [t.name, t.dependsOn, t.inputs, t.outputs])).toEqual([
      ['generate', [], [], ['samples']],
      ['stats', ['generate'], ['samples'], ['mean', 'stdev']],
      ['histogram', ['generate'], ['samples'], ['counts']],
      ['report', ['histogram', 'stats'], ['counts', 'mean', 'stdev'], []],
    ]);
    expect(read('quickstart.ipynb')).toContain('CELLPIPE_OUTPUT_DIR');
  });

  it('gpu-mig: GPU and MIG resources, after:, skip and metadata settings', () => {
    const p = compileExample('gpu-mig.ipynb');
    expect(p.metadata.name).toBe('gpu-mig');
    expect(p.spec.failurePolicy).toBe('fail-fast');
    expect(p.spec.tasks.map((t) => [t.name, t.dependsOn, t.resources])).toEqual([
      ['prepare', [], { cpu: '2', memory: '2Gi' }],
      ['train', ['prepare'], { gpu: 1, cpu: '1', memory: '1Gi' }],
      ['evaluate', ['train'], { mig: '1g.10gb', cpu: '1', memory: '1Gi' }],
      ['notify', ['evaluate', 'train'], { cpu: '1', memory: '1Gi' }],
    ]);
    const train = p.spec.tasks[1]!;
    expect([train.retries, train.timeout]).toEqual([1, '30m']);
    expect(p.spec.tasks[2]!.env).toEqual({ EVAL_MODE: 'fast' });
    expect(p.spec.tasks.flatMap((t) => t.cells)).not.toContain(4); // the skip cell
  });
});

describe('browser safety', () => {
  it('the main entry reaches no node: or Node builtin imports', () => {
    const src = fileURLToPath(new URL('../src/', import.meta.url));
    const seen = new Set<string>();
    const bad: string[] = [];
    const visit = (rel: string) => {
      if (seen.has(rel)) return;
      seen.add(rel);
      const text = readFileSync(src + rel, 'utf8');
      for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+'([^']+)'/gm)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) {
          const dir = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/') + 1) : '';
          const parts = (dir + spec.replace(/\.js$/, '.ts')).split('/');
          const out: string[] = [];
          for (const p of parts)
            if (p === '..') out.pop();
            else if (p !== '.') out.push(p);
          visit(out.join('/'));
        } else if (spec.startsWith('node:') || ['fs', 'path', 'os', 'child_process', 'url'].includes(spec)) {
          bad.push(`${rel} imports ${spec}`);
        }
      }
    };
    visit('index.ts');
    expect(seen.has('compile.ts')).toBe(true);
    expect(seen.has('node.ts')).toBe(false);
    expect(bad).toEqual([]);
  });
});
