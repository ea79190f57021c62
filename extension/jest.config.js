/**
 * The tested modules are the extension's pure parts (tag mapping, API client, job-state reducers); they
 * import no JupyterLab package, so no ESM packages in node_modules need transforming.
 */
import base from '../jest.config.base.js';

export default {
  ...base,
  // The built labextension carries a copy of package.json; jest must not see two @cellpipe/jupyterlab.
  modulePathIgnorePatterns: ['<rootDir>/cellpipe_jupyterlab/'],
};
