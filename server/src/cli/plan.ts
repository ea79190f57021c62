/**
 * `cellpipe plan DIR` and `cellpipe apply DIR`: pipelines and schedules declared in a directory of
 * YAML files (cli/declarative/), compared with the server and made so.
 *
 * Exit codes: plan 0 (no changes), 2 (changes), 1 (error), as `terraform plan -detailed-exitcode`;
 * apply 0 (applied, or nothing to do) and 1 (error, or not confirmed).
 */
import { createInterface } from 'node:readline/promises';
import { formatDiagnostic, hasErrors, LabelsSchema, MANAGED_BY_LABEL, sortDiagnostics } from '@cellpipe/schema';
import { withTarget } from './commands.js';
import { loadDirectory, type Declared } from './declarative/manifests.js';
import { makePlan, type Plan, type PlanAction } from './declarative/plan.js';
import { sourceOf } from './declarative/source.js';
import { CliError } from './errors.js';
import { err, out, reportError } from './output.js';
import type { Target, TargetFlags } from './target.js';

export interface PlanFlags extends TargetFlags {
  prune?: boolean;
  /** `key=value[,key=value]`: the labels that mark this directory's objects (instead of its source). */
  selector?: string;
  /** The ownership label's value (default: the repository and path of the directory). */
  source?: string;
}

export function parseSelector(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new CliError(`--selector must look like key=value[,key=value], not "${text}"`, 1);
    labels[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const parsed = LabelsSchema.safeParse(labels);
  if (!Object.keys(labels).length || !parsed.success) {
    const why = parsed.success ? 'name at least one label' : parsed.error.issues[0]!.message;
    throw new CliError(`--selector "${text}": ${why}`, 1);
  }
  return parsed.data;
}

async function ownership(dir: string, flags: PlanFlags): Promise<Record<string, string>> {
  if (flags.selector) return parseSelector(flags.selector);
  return { [MANAGED_BY_LABEL]: flags.source ?? (await sourceOf(dir)) };
}

async function declaredIn(dir: string): Promise<Declared> {
  const declared = await loadDirectory(dir);
  const diagnostics = sortDiagnostics([...declared.diagnostics]);
  for (const d of diagnostics) err(formatDiagnostic(d));
  if (hasErrors(diagnostics)) throw new CliError(`${dir} has errors: nothing was compared or changed`, 1);
  return declared;
}

const SIGN: Record<PlanAction, string> = { create: '+', update: '~', delete: '-' };

function printPlan(plan: Plan, owner: Record<string, string>): void {
  out(
    `objects of this directory carry ${Object.entries(owner)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  );
  for (const item of plan.items) {
    out(`${SIGN[item.action]} ${item.action} ${item.kind} ${item.name}`);
    for (const line of item.details) out(`    ${line}`);
  }
  for (const k of plan.kept) out(`  ${k.kind} ${k.name} is no longer declared here: kept (--prune deletes it)`);
  const count = (a: PlanAction) => plan.items.filter((i) => i.action === a).length;
  if (!plan.items.length) {
    out(`No changes: the server matches the directory (${plan.unchanged.length} objects).`);
    return;
  }
  out(`Plan: ${count('create')} to create, ${count('update')} to change, ${count('delete')} to delete.`);
}

async function planFor(
  target: Target,
  dir: string,
  flags: PlanFlags,
): Promise<{ plan: Plan; owner: Record<string, string> }> {
  const declared = await declaredIn(dir);
  const owner = await ownership(dir, flags);
  const plan = await makePlan(target.client, declared, { ownership: owner, prune: Boolean(flags.prune) });
  printPlan(plan, owner);
  return { plan, owner };
}

/** Any error is exit 1 here: a plan's 2 means "changes", whatever went wrong (a 400 included). */
async function exitOneOnError(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    reportError(e);
    return 1;
  }
}

export async function planCommand(dir: string, flags: PlanFlags): Promise<number> {
  return exitOneOnError(() =>
    withTarget(flags, {}, async (target) => {
      const { plan } = await planFor(target, dir, flags);
      return plan.items.length ? 2 : 0;
    }),
  );
}

async function confirmed(flags: { yes?: boolean }): Promise<boolean> {
  if (flags.yes) return true;
  if (!process.stdin.isTTY) {
    throw new CliError('apply changes the server: confirm it in a terminal, or pass --yes (as in CI)', 1);
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question('Apply these changes? Only "yes" applies them: ')).trim() === 'yes';
  } finally {
    rl.close();
  }
}

export async function applyCommand(dir: string, flags: PlanFlags & { yes?: boolean }): Promise<number> {
  return exitOneOnError(() => apply(dir, flags));
}

async function apply(dir: string, flags: PlanFlags & { yes?: boolean }): Promise<number> {
  return withTarget(flags, {}, async (target) => {
    const { plan } = await planFor(target, dir, flags);
    if (!plan.items.length) return 0;
    if (!(await confirmed(flags))) {
      err('Apply cancelled: nothing was changed.');
      return 1;
    }
    let done = 0;
    for (const item of plan.items) {
      try {
        out(await item.run(target.client));
        done++;
      } catch (e) {
        err(`${item.action} ${item.kind} ${item.name} failed: ${(e as Error).message}`);
        err(`${done} of ${plan.items.length} changes applied; run apply again once it is fixed.`);
        return 1;
      }
    }
    out(`Applied: ${done} change${done > 1 ? 's' : ''}.`);
    return 0;
  });
}
