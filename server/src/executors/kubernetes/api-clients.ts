/**
 * API clients that reuse their connections. The client library's KubeConfig gives every request a
 * new https.Agent, so each call pays a TLS handshake on both ends (kubernetes-client/javascript
 * #2893); starting a thousand tasks is then mostly handshakes. Here every request still gets the
 * kubeconfig's credentials (tokens, exec plugins, client certificates, read anew per request), and
 * the request goes through one keep-alive agent per distinct set of TLS options.
 */
import https from 'node:https';
import {
  ServerConfiguration,
  createConfiguration,
  type KubeConfig,
  type RequestContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';

/** Sockets one agent may hold open: above the executor's parallel creates, far below the apiserver's limits. */
const MAX_SOCKETS = 64;

const TLS_OPTIONS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'rejectUnauthorized', 'servername'] as const;

type TlsOptions = Pick<https.AgentOptions, (typeof TLS_OPTIONS)[number]>;

/** Equal by value: the library reads the credential files into new buffers for every request. */
function same(x: unknown, y: unknown): boolean {
  if (Buffer.isBuffer(x) && Buffer.isBuffer(y)) return x.equals(y);
  if (Array.isArray(x) && Array.isArray(y)) return x.length === y.length && x.every((v, i) => same(v, y[i]));
  return x === y;
}

const sameTls = (a: TlsOptions, b: TlsOptions) => TLS_OPTIONS.every((k) => same(a[k], b[k]));

class PooledAuthentication implements SecurityAuthentication {
  /** One agent per TLS identity seen (one, unless the credentials rotate). */
  private readonly pool: { tls: TlsOptions; agent: https.Agent }[] = [];

  constructor(private readonly kc: KubeConfig) {}

  getName(): string {
    return 'kubeconfig authentication over pooled connections';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.kc.applySecurityAuthentication(context);
    const fresh = context.getAgent();
    // Proxies and plain HTTP keep the library's own agent.
    if (!(fresh instanceof https.Agent) || fresh.constructor !== https.Agent) return;
    const options: https.AgentOptions = fresh.options;
    const tls = Object.fromEntries(TLS_OPTIONS.map((k) => [k, options[k]])) as TlsOptions;
    let entry = this.pool.find((e) => sameTls(e.tls, tls));
    if (!entry) {
      entry = { tls, agent: new https.Agent({ ...tls, keepAlive: true, maxSockets: MAX_SOCKETS }) };
      this.pool.push(entry);
    }
    context.setAgent(entry.agent);
  }

  close(): void {
    for (const { agent } of this.pool.splice(0)) agent.destroy();
  }
}

export interface ApiClients {
  make<T>(apiClass: new (config: ReturnType<typeof createConfiguration>) => T): T;
  /** Closes the pooled connections. */
  close(): void;
}

export function pooledApiClients(kc: KubeConfig): ApiClients {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const auth = new PooledAuthentication(kc);
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: auth },
  });
  return {
    make: (apiClass) => new apiClass(config),
    close: () => auth.close(),
  };
}
