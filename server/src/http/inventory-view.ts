/**
 * What one caller sees of the inventory's holders and waiters (`inventoryHolders`):
 *   - `all` (default): every holder by user name, to everyone on the server; that is the point of it;
 *   - `team`: names, jobs and tasks of the caller's own teams (and their own); others as "another team";
 *   - `anonymous`: only the caller's own; everyone else as "another user".
 * Admins always see everything. Counts, resources and waiting reasons are never withheld.
 */
import type { Inventory } from '@cellpipe/schema';
import type { Principal } from '../auth/authenticator.js';
import type { Teams } from '../auth/teams.js';

export type InventoryHolders = 'all' | 'team' | 'anonymous';

export function inventoryView(inventory: Inventory, p: Principal, mode: InventoryHolders, teams: Teams): Inventory {
  if (mode === 'all' || p.admin) return inventory;
  const mine = new Set(teams.of(p));
  const shown = new Map<string, boolean>();
  const visible = (user: string): boolean => {
    if (user === p.user) return true;
    if (mode === 'anonymous') return false;
    let v = shown.get(user);
    if (v === undefined) {
      v = teams.ofUser(user).some((t) => mine.has(t));
      shown.set(user, v);
    }
    return v;
  };
  const label = mode === 'team' ? 'another team' : 'another user';
  const hide = <T extends { user: string; jobId: string; task: string }>(x: T): T =>
    visible(x.user) ? x : { ...x, user: label, jobId: '', task: '', hidden: true };
  return {
    ...inventory,
    resources: inventory.resources.map((r) => ({
      ...r,
      holders: r.holders.map(hide),
      ...(r.waiting ? { waiting: r.waiting.map(hide) } : {}),
    })),
  };
}
