import { notebookFolder } from '../src/api/workDir.js';

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
