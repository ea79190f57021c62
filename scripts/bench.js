// `npm run bench`: runs every benchmark suite in one process and prints one JSON document.
// Each suite reports its own measurements and the ratio to a baseline measured in the same run.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const suites = [
  ['compile', './bench-compile.js', 'benchCompile'],
  ['runner', './bench-runner.js', 'benchRunner'],
  ['server', './bench-server.js', 'benchServer'],
  ['requests', './bench-requests.js', 'benchRequests'],
  ['metrics', './bench-metrics.js', 'benchMetrics'],
  ['kubernetes', './bench-kubernetes.js', 'benchKubernetes'],
  ['kubernetes-real', './bench-kubernetes-real.js', 'benchKubernetesReal'],
  ['corpus', './bench-corpus.js', 'benchCorpus'],
  ['schedules', './bench-schedules.js', 'benchSchedules'],
];
const only = process.argv.slice(2);

const results = { date: new Date().toISOString(), node: process.version, suites: {} };
for (const [name, file, fn] of suites) {
  if (only.length && !only.includes(name)) continue;
  if (!existsSync(join(here, file))) continue;
  const started = Date.now();
  try {
    const mod = await import(file);
    results.suites[name] = await mod[fn]();
  } catch (err) {
    results.suites[name] = { error: String(err?.stack ?? err) };
    process.exitCode = 1;
  }
  process.stderr.write(`bench ${name}: ${Date.now() - started} ms\n`);
}
const text = JSON.stringify(results, null, 2);
const outDir = join(here, '..', 'bench-results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.json'), text + '\n');
console.log(text);
