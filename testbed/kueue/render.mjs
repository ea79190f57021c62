#!/usr/bin/env node
/**
 * Kueue's upstream manifests (in its Go module's config/components) made ready for a Kueue that runs
 * as a local process: every webhook the apiserver calls (admission and CRD conversion) is given as
 * `url: https://127.0.0.1:<port>/<upstream path>` with the bed's CA, instead of an in-cluster Service.
 * Reads the kustomizations' own lists (resources, patches, replacements), so a version bump brings
 * its CRDs and webhooks along without edits here. Writes a JSON List.
 *
 *   render.mjs crds <module dir> <base url> <ca.crt>       the CRDs, conversion webhooks patched in
 *   render.mjs webhooks <module dir> <base url> <ca.crt>   the admission webhook configurations
 *   render.mjs yaml <file>                                 any YAML manifest as a JSON List
 *   render.mjs split <list.json> <dir>                     each object to <dir>/<n>.json; prints "<API path> <file>"
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

const [mode, ...args] = process.argv.slice(2);

const readYaml = (path) =>
  parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean);

function clientConfig(service, base, ca) {
  return { url: base.replace(/\/$/, '') + (service?.path ?? '/'), caBundle: ca };
}

function crds(moduleDir, base, caFile) {
  const dir = join(moduleDir, 'config/components/crd');
  const kust = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  const ca = readFileSync(caFile).toString('base64');
  const items = kust.resources.flatMap((r) => readYaml(join(dir, r)));
  for (const p of kust.patches ?? []) {
    for (const patch of readYaml(join(dir, p.path))) {
      const crd = items.find((c) => c.metadata.name === patch.metadata.name);
      const conversion = patch.spec?.conversion;
      if (!crd || !conversion) throw new Error(`patch ${p.path}: no CRD ${patch.metadata.name} or no conversion`);
      conversion.webhook.clientConfig = clientConfig(conversion.webhook.clientConfig.service, base, ca);
      crd.spec.conversion = conversion;
    }
  }
  return items;
}

/** `webhooks.[name=x].namespaceSelector` → ['webhooks', {name: 'x'}, 'namespaceSelector']. */
function fieldPath(path) {
  return path.split('.').reduce((parts, part) => {
    // Names such as vpod.kb.io contain dots: rejoin a bracket that was split.
    const last = parts[parts.length - 1];
    if (typeof last === 'string' && last.startsWith('[') && !last.endsWith(']'))
      parts[parts.length - 1] = `${last}.${part}`;
    else parts.push(part);
    return parts;
  }, []);
}

function locate(obj, path) {
  const parts = fieldPath(path);
  const last = parts.pop();
  let at = obj;
  for (const part of parts) {
    const m = /^\[(\w+)=(.*)\]$/.exec(part);
    at = m ? at.find((x) => x[m[1]] === m[2]) : at[part];
    if (at === undefined) return undefined;
  }
  return { parent: at, key: last };
}

function webhooks(moduleDir, base, caFile) {
  const dir = join(moduleDir, 'config/components/webhook');
  const kust = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  const ca = readFileSync(caFile).toString('base64');
  const items = kust.resources
    .flatMap((r) => readYaml(join(dir, r)))
    .filter((o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration');
  const byName = (kind, name) => items.find((o) => o.kind === kind && o.metadata.name === name);
  // Strategic-merge patches of webhook entries (by name), e.g. the pod webhook's namespaceSelector.
  for (const p of kust.patches ?? []) {
    const patch = parse(p.patch);
    const target = byName(patch.kind, patch.metadata.name);
    for (const w of patch.webhooks ?? [])
      Object.assign(
        target.webhooks.find((x) => x.name === w.name),
        w,
      );
  }
  // Replacements copy a value (the namespaceSelector) into the other job and pod webhooks.
  for (const r of kust.replacements ?? []) {
    const src = locate(byName(r.source.kind, r.source.name), r.source.fieldPath);
    const value = src.parent[src.key];
    for (const t of r.targets) {
      const target = byName(t.select.kind, t.select.name);
      for (const fp of t.fieldPaths) {
        const at = locate(target, fp);
        // Entries for integrations this version does not serve are skipped, as kustomize does.
        if (at) at.parent[at.key] = structuredClone(value);
      }
    }
  }
  for (const o of items) {
    // config/default's namePrefix; no namespace for cluster-scoped objects.
    o.metadata.name = `kueue-${o.metadata.name}`;
    delete o.metadata.namespace;
    for (const w of o.webhooks) w.clientConfig = clientConfig(w.clientConfig.service, base, ca);
  }
  return items;
}

/** The API path of an object for a server-side apply (PATCH). */
function apiPath(o) {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const kind = o.kind.toLowerCase();
  const plural = kind.endsWith('s') ? `${kind}es` : kind.endsWith('y') ? `${kind.slice(0, -1)}ies` : `${kind}s`;
  const root = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const ns = o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : '';
  return `${root}${ns}/${plural}/${o.metadata.name}`;
}

const list = (items) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

switch (mode) {
  case 'crds':
    process.stdout.write(list(crds(...args)));
    break;
  case 'webhooks':
    process.stdout.write(list(webhooks(...args)));
    break;
  case 'yaml':
    process.stdout.write(list(readYaml(args[0])));
    break;
  case 'split':
    JSON.parse(readFileSync(args[0], 'utf8')).items.forEach((o, i) => {
      const file = join(args[1], `${i}.json`);
      writeFileSync(file, JSON.stringify(o));
      console.log(`${apiPath(o)} ${file}`);
    });
    break;
  default:
    console.error(
      'usage: render.mjs crds|webhooks <module dir> <base url> <ca.crt> | yaml <file> | split <list.json> <dir>',
    );
    process.exit(2);
}
