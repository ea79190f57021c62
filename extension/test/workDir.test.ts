import { PageConfig } from '@jupyterlab/coreutils';
import { notebookFolder, notebookRequest } from '../src/api/workDir.js';

describe('the folder a job asks to work in', () => {
  it("is the notebook's folder under the Jupyter server's root", () => {
    expect(notebookFolder('experiments/mnist/train.ipynb', '/home/alice')).toBe('/home/alice/experiments/mnist');
    expect(notebookFolder('train.ipynb', '/home/alice/')).toBe('/home/alice');
    expect(notebookFolder('srv/train.ipynb', '/')).toBe('/srv');
    expect(notebookFolder('train.ipynb', '/')).toBe('/');
  });

  it('is not sent when the root is not an absolute POSIX path', () => {
    expect(notebookFolder('train.ipynb', '')).toBeUndefined();
    expect(notebookFolder('train.ipynb', 'C:/Users/alice')).toBeUndefined();
    expect(notebookFolder('train.ipynb', '~/work')).toBeUndefined();
  });
});

describe('a request for a notebook as it is now (a re-run with changes and its plan)', () => {
  it("works in the notebook's folder, as the job it is compared with did", () => {
    PageConfig.setOption('serverRoot', '/home/alice');
    const nb = { path: 'experiments/train.ipynb', content: { cells: [] } };
    expect(notebookRequest(nb)).toEqual({ notebook: nb, workDir: '/home/alice/experiments', workDirUnseen: 'own' });
    PageConfig.setOption('serverRoot', '');
    expect(notebookRequest(nb)).toEqual({ notebook: nb });
  });
});
