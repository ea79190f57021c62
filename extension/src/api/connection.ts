/**
 * Where the extension's requests go: by default the Jupyter server's `cellpipe/` proxy (Jupyter's
 * own auth; the proxy adds the Cellpipe token), or, when the `serverUrl` setting is set, straight to
 * that URL (JupyterHub service at `/services/cellpipe/`) with the page's token.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Signal, type ISignal } from '@lumino/signaling';
import type { ICellpipeAPI } from '../tokens.js';
import { CellpipeClient, NetworkError } from './client.js';

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

export class CellpipeConnection implements ICellpipeAPI {
  readonly client: CellpipeClient;
  private _serverUrl = '';
  private readonly _changed = new Signal<this, void>(this);

  constructor(private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()) {
    this.client = new CellpipeClient((path, init) => this.fetch(path, init));
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Empty: use the Jupyter server proxy. */
  get serverUrl(): string {
    return this._serverUrl;
  }

  set serverUrl(url: string) {
    const next = url.trim();
    if (next === this._serverUrl) return;
    this._serverUrl = next;
    this._changed.emit();
  }

  /** Base URL every API path is joined to, ending in `/`. */
  get baseUrl(): string {
    return this._serverUrl ? withSlash(this._serverUrl) : withSlash(URLExt.join(this.settings.baseUrl, 'cellpipe'));
  }

  eventsUrl(query: Record<string, string> = {}): string {
    const url = new URL(`${this.baseUrl}api/events`, window.location.href);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    // EventSource cannot send headers: the token rides in the query. Through the proxy it is
    // Jupyter's token (the proxy drops it and adds the Cellpipe token); direct, the page's token.
    const token = this._serverUrl ? PageConfig.getToken() : this.settings.token;
    if (token) url.searchParams.set('token', token);
    return url.toString();
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    try {
      if (!this._serverUrl) return await ServerConnection.makeRequest(url, init, this.settings);
      const headers = new Headers(init.headers);
      const token = PageConfig.getToken();
      if (token) headers.set('Authorization', `token ${token}`);
      return await fetch(url, { ...init, headers, credentials: 'same-origin' });
    } catch (err) {
      if (err instanceof Error && err.name === 'AbortError') throw err;
      throw new NetworkError(err instanceof Error ? err.message : String(err), { cause: err });
    }
  }
}
