// jest globalSetup: builds dist/cellpipe_runner.pyz from server/runner/ (what `npm run build` does), so
// every test that starts a task runs the runner's current sources.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const serverDir = join(dirname(fileURLToPath(import.meta.url)), '..');

export default function buildRunner() {
  const r = spawnSync('python3', [join('runner', 'build.py'), join('dist', 'cellpipe_runner.pyz')], {
    cwd: serverDir,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`building the runner failed: ${r.stderr || r.error}`);
}
