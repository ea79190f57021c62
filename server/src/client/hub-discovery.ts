/**
 * Finding the Cellpipe service from inside a JupyterHub single-user server, as the JupyterLab
 * extension does (extension/cellpipe_jupyterlab/upstream.py): the Hub gives every server
 * JUPYTERHUB_API_URL and its own JUPYTERHUB_API_TOKEN; the Hub answers where its service named
 * CELLPIPE_SERVICE_NAME (default `cellpipe`) is (`GET <api>/services/<name>`, which needs
 * `read:services!service=<name>` in `c.Spawner.server_token_scopes`), and the same token reaches it.
 */
import { z } from 'zod';

export interface HubService {
  /** The service's base URL (its address and prefix), e.g. http://cellpipe:8765/services/cellpipe. */
  url: string;
  token: string;
}

const ServiceModel = z.object({ url: z.string().optional(), prefix: z.string().optional() });

/** The Hub's Cellpipe service, undefined when not under a Hub or the Hub has none (with why in `reason`). */
export async function discoverHubService(env: NodeJS.ProcessEnv): Promise<{ service?: HubService; reason: string }> {
  const api = env.JUPYTERHUB_API_URL?.trim().replace(/\/+$/, '');
  const hubToken = env.JUPYTERHUB_API_TOKEN?.trim();
  if (!api || !hubToken) return { reason: 'not under JupyterHub' };
  const name = env.CELLPIPE_SERVICE_NAME?.trim() || 'cellpipe';
  const url = `${api}/services/${encodeURIComponent(name)}`;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { Authorization: `token ${hubToken}`, Accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    return { reason: `cannot reach the Hub API at ${api}: ${(err as Error).message}` };
  }
  if (res.status === 404) return { reason: `the Hub has no service "${name}"` };
  if (res.status === 403) {
    return {
      reason: `this server's Hub token may not read the service "${name}" (read:services!service=${name} belongs in c.Spawner.server_token_scopes)`,
    };
  }
  if (!res.ok) return { reason: `GET ${url} answered ${res.status}` };
  const model = ServiceModel.safeParse(await res.json().catch(() => undefined));
  const base = model.success ? model.data.url?.replace(/\/+$/, '') : undefined;
  if (!base) return { reason: `the Hub service "${name}" has no URL` };
  const prefix = (model.data!.prefix || `/services/${name}/`).replace(/\/+$/, '');
  return { service: { url: `${base}${prefix}`, token: env.CELLPIPE_TOKEN?.trim() || hubToken }, reason: '' };
}
