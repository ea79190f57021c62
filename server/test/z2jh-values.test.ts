/**
 * The README's zero-to-jupyterhub values (the block after its `z2jh-values` marker) load as YAML,
 * use only keys z2jh's published values schema has (deploy/helm/z2jh/, an excerpt of it), and agree
 * with the Cellpipe chart: the service's URL is the chart's Service, the scopes name its service,
 * network rules select its pods, and the token it reads is the one z2jh generates.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const schema = JSON.parse(readFileSync(join(root, 'deploy/helm/z2jh/values.schema.excerpt.json'), 'utf8')) as object;
const chart = parse(readFileSync(join(root, 'deploy/helm/cellpipe/Chart.yaml'), 'utf8')) as { name: string };
const chartValues = parse(readFileSync(join(root, 'deploy/helm/cellpipe/values.yaml'), 'utf8')) as {
  service: { port: number };
  jupyterhub: { serviceName: string; apiToken: { existingSecret: string; key: string } };
};

function snippet(): string {
  const marker = readme.indexOf('<!-- z2jh-values');
  expect(marker).toBeGreaterThan(0);
  const m = /```yaml\n([\s\S]*?)```/.exec(readme.slice(marker));
  expect(m).not.toBeNull();
  return m![1]!;
}

const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);

interface Z2jhValues {
  hub: {
    services: Record<string, { url: string; oauth_redirect_uri?: string }>;
    loadRoles: Record<string, { scopes: string[] }>;
    config: { Spawner: { oauth_client_allowed_scopes: string[] } };
    extraConfig: Record<string, string>;
  };
  proxy: { chp: { networkPolicy: { egress: Egress[] } } };
  singleuser: { networkPolicy: { egress: Egress[] } };
}
interface Egress {
  to: { podSelector: { matchLabels: Record<string, string> } }[];
  ports: { port: number }[];
}

test("the README's z2jh values use only keys of z2jh's values schema", () => {
  const values = parse(snippet()) as unknown;
  const ok = validate(values);
  expect(validate.errors ?? []).toEqual([]);
  expect(ok).toBe(true);
  // The check can fail: a misspelt key, or one z2jh does not have, is refused.
  for (const wrong of [
    { hub: { loadRole: {} } },
    { singleuser: { networkPolicy: { egres: [] } } },
    { proxy: { chp: { networkPolicy: { egressAllowRules: { privateIP: true } } } } },
    { hub: { config: { spawner: {} } } },
  ]) {
    expect(validate(wrong)).toBe(false);
  }
});

test('the z2jh values agree with the Cellpipe chart and the scopes the service checks', () => {
  const values = parse(snippet()) as Z2jhValues;
  const name = chartValues.jupyterhub.serviceName;
  const service = values.hub.services[name]!;
  // `helm install cellpipe deploy/helm/cellpipe` names the Service after the release.
  expect(new URL(service.url)).toMatchObject({ hostname: chart.name, port: String(chartValues.service.port) });
  expect(service.oauth_redirect_uri).toBe(`/services/${name}/oauth_callback`);
  // The chart reads the token z2jh generates into its hub Secret for this service.
  expect(chartValues.jupyterhub.apiToken).toEqual({ existingSecret: 'hub', key: `hub.services.${name}.apiToken` });

  const access = `access:services!service=${name}`;
  const read = `read:services!service=${name}`;
  expect(values.hub.loadRoles.user!.scopes).toEqual(expect.arrayContaining(['self', access, read]));
  expect(values.hub.config.Spawner.oauth_client_allowed_scopes).toContain(access);
  const extra = Object.values(values.hub.extraConfig).join('\n');
  expect(extra).toMatch(/c\.Spawner\.server_token_scopes = \[/);
  for (const scope of [access, read]) expect(extra).toContain(`"${scope}"`);

  for (const egress of [values.proxy.chp.networkPolicy.egress, values.singleuser.networkPolicy.egress]) {
    expect(egress).toContainEqual({
      to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': chart.name } } }],
      ports: [{ port: chartValues.service.port }],
    });
  }
});
