/**
 * `cellpipe notify list|add|update|remove|test|deliveries`: notification targets and a job's
 * deliveries.
 */
import { readFileSync } from 'node:fs';
import type { NotifierKind, TargetWithSecret } from '@cellpipe/schema';
import { withTarget } from './commands.js';
import { CliError } from './errors.js';
import { out, table } from './output.js';
import type { JsonFlag } from './pipelines.js';
import type { TargetFlags } from './target.js';

/** A secret given as `-` is read from standard input (so it stays out of the shell history and `ps`). */
function secretArg(value: string | undefined, what: string): string | undefined {
  if (value !== '-') return value;
  const text = readFileSync(0, 'utf8').split('\n')[0]?.trim();
  if (!text) throw new CliError(`${what} -: nothing on standard input`, 2);
  return text;
}

function printTarget(t: TargetWithSecret): void {
  out(
    `${t.scope === 'site' ? 'site-wide ' : ''}target ${t.name} (${t.id}): ${t.kind} to ${t.host}${t.signed ? ', signed' : ''}`,
  );
  if (t.secret) out(`secret (shown this once; receivers check X-Cellpipe-Signature with it): ${t.secret}`);
}

export async function notifyListCommand(flags: TargetFlags & JsonFlag & { user?: string }): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.listTargets(flags.user);
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    const rows = [['NAME', 'KIND', 'SCOPE', 'HOST', 'SIGNED', 'DESCRIPTION']];
    for (const t of list.items)
      rows.push([t.name, t.kind, t.scope, t.host, t.signed ? 'yes' : 'no', t.description ?? '']);
    for (const line of table(rows)) out(line);
    return 0;
  });
}

export async function notifyAddCommand(
  name: string,
  flags: TargetFlags &
    JsonFlag & { kind: NotifierKind; endpoint: string; secret?: string; site?: boolean; description?: string },
): Promise<number> {
  const url = secretArg(flags.endpoint, '--endpoint')!;
  const secret = secretArg(flags.secret, '--secret');
  return withTarget(flags, {}, async (target) => {
    const created = await target.client.createTarget({
      name,
      kind: flags.kind,
      url,
      ...(secret ? { secret } : {}),
      ...(flags.site ? { scope: 'site' as const } : {}),
      ...(flags.description ? { description: flags.description } : {}),
    });
    if (flags.json) out(JSON.stringify(created, null, 2));
    else printTarget(created);
    return 0;
  });
}

export async function notifyUpdateCommand(
  ref: string,
  flags: TargetFlags & JsonFlag & { endpoint?: string; secret?: string; rotateSecret?: boolean; description?: string },
): Promise<number> {
  const url = secretArg(flags.endpoint, '--endpoint');
  const secret = secretArg(flags.secret, '--secret');
  return withTarget(flags, {}, async (target) => {
    const updated = await target.client.updateTarget(ref, {
      ...(url ? { url } : {}),
      ...(secret ? { secret } : {}),
      ...(flags.rotateSecret ? { rotateSecret: true as const } : {}),
      ...(flags.description !== undefined
        ? { description: flags.description === 'none' ? null : flags.description }
        : {}),
    });
    if (flags.json) out(JSON.stringify(updated, null, 2));
    else printTarget(updated);
    return 0;
  });
}

export async function notifyRemoveCommand(ref: string, flags: TargetFlags): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    await target.client.deleteTarget(ref);
    out(`removed target ${ref}`);
    return 0;
  });
}

export async function notifyTestCommand(ref: string, flags: TargetFlags & JsonFlag): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const r = await target.client.testTarget(ref);
    if (flags.json) out(JSON.stringify(r, null, 2));
    else
      out(r.ok ? `delivered (HTTP ${r.statusCode}) in ${r.durationMs} ms` : `not delivered: ${r.error ?? 'no answer'}`);
    return r.ok ? 0 : 1;
  });
}

export async function notifyDeliveriesCommand(jobId: string, flags: TargetFlags & JsonFlag): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const list = await target.client.deliveries(jobId);
    if (flags.json) {
      out(JSON.stringify(list, null, 2));
      return 0;
    }
    if (!list.items.length) {
      out(`job ${jobId} sent no notifications`);
      return 0;
    }
    const rows = [['TARGET', 'KIND', 'ON', 'STATE', 'ATTEMPTS', 'LAST', 'NEXT TRY']];
    for (const d of list.items) {
      const last = d.attempts.at(-1);
      const what = last
        ? last.statusCode !== undefined
          ? `HTTP ${last.statusCode}`
          : (last.error ?? '')
        : (d.error ?? '');
      rows.push([d.target, d.kind ?? '', d.on, d.state, String(d.attempts.length), what, d.nextAttemptAt ?? '']);
    }
    for (const line of table(rows)) out(line);
    for (const d of list.items) if (d.state === 'failed' && d.error) out(`${d.target}: ${d.error}`);
    return 0;
  });
}
