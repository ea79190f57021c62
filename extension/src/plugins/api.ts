import type { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { CellpipeConnection } from '../api/connection.js';
import { ICellpipeAPI, PLUGIN_PREFIX } from '../tokens.js';

const PLUGIN_ID = `${PLUGIN_PREFIX}:api`;

function activateAPI(app: JupyterFrontEnd, settingRegistry: ISettingRegistry | null): ICellpipeAPI {
  const connection = new CellpipeConnection(app.serviceManager.serverSettings);
  if (settingRegistry) {
    void settingRegistry
      .load(PLUGIN_ID)
      .then((settings) => {
        const apply = (): void => {
          const url = settings.get('serverUrl').composite;
          connection.serverUrl = typeof url === 'string' ? url : '';
        };
        apply();
        settings.changed.connect(apply);
      })
      .catch((reason: unknown) => console.error(`${PLUGIN_ID}: cannot load settings`, reason));
  }
  return connection;
}

export const apiPlugin: JupyterFrontEndPlugin<ICellpipeAPI> = {
  id: PLUGIN_ID,
  description: 'Client of the Cellpipe companion server (through the Jupyter server proxy by default).',
  autoStart: true,
  provides: ICellpipeAPI,
  optional: [ISettingRegistry],
  activate: activateAPI,
};
