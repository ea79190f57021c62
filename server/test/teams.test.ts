/** Team resolution (auth/teams.ts) with the store's user directory, and the `teams:` configuration. */
import Database from 'better-sqlite3';
import { Teams, TeamsConfigSchema } from '../src/auth/teams.js';
import { loadConfig } from '../src/config.js';
import { migrate } from '../src/store/sqlite-store.js';
import { SqliteUserDirectory } from '../src/store/user-directory.js';

function directory(): SqliteUserDirectory {
  const db = new Database(':memory:');
  migrate(db);
  return new SqliteUserDirectory(db);
}

describe('Teams', () => {
  const config = {
    vision: { groups: ['cv', 'vision'], visibility: 'team' as const },
    nlp: { groups: ['nlp'], users: ['carol'] },
    all: { groups: ['everyone'] },
  };

  test('a caller belongs to every team naming them or one of their groups, in configuration order', () => {
    const teams = new Teams(config);
    expect(teams.of({ user: 'alice', groups: ['everyone', 'vision'] })).toEqual(['vision', 'all']);
    expect(teams.primary({ user: 'alice', groups: ['everyone', 'vision'] })).toBe('vision');
    expect(teams.of({ user: 'carol', groups: [] })).toEqual(['nlp']);
    expect(teams.primary({ user: 'zed', groups: ['other'] })).toBeUndefined();
  });

  test('owners who are not calling resolve from the groups they were last seen with', () => {
    const dir = directory();
    const teams = new Teams(config, dir);
    expect(teams.primaryOfUser('bob')).toBeUndefined();
    dir.record({ user: 'bob', admin: false, groups: ['nlp'] });
    expect(teams.primaryOfUser('bob')).toBe('nlp');
    dir.record({ user: 'bob', admin: false, groups: ['cv'] });
    expect(teams.ofUser('bob')).toEqual(['vision']);
    expect(teams.members('nlp')).toEqual(['carol']);
    expect(teams.members('vision')).toEqual(['bob']);
  });

  test('shared visibility needs a common team that shares', () => {
    const dir = directory();
    const teams = new Teams(config, dir);
    for (const [user, groups] of [
      ['alice', ['vision', 'everyone']],
      ['bob', ['cv']],
      ['carol', ['everyone']],
      ['dan', ['nlp']],
    ] as const)
      dir.record({ user, admin: false, groups: [...groups] });
    const alice = { user: 'alice', groups: ['vision', 'everyone'] };
    expect(teams.shares(alice, 'bob')).toBe(true);
    // `all` holds both but does not share; nlp does not share either.
    expect(teams.shares(alice, 'carol')).toBe(false);
    expect(teams.shares({ user: 'carol', groups: ['everyone'] }, 'dan')).toBe(false);
    expect(teams.sharedOwners(alice)).toEqual(['bob']);
    expect(teams.shares(alice, 'alice')).toBe(true);
  });

  test('the directory writes only when a caller changed', () => {
    const db = new Database(':memory:');
    migrate(db);
    const dir = new SqliteUserDirectory(db);
    dir.record({ user: 'alice', admin: false, groups: ['b', 'a'] });
    const seen = () => (db.prepare('SELECT seen_at FROM users').get() as { seen_at: string }).seen_at;
    const first = seen();
    db.prepare("UPDATE users SET seen_at = 'marker'").run();
    dir.record({ user: 'alice', admin: false, groups: ['a', 'b'] });
    expect(seen()).toBe('marker');
    dir.record({ user: 'alice', admin: true, groups: ['a', 'b'] });
    expect(seen()).not.toBe('marker');
    expect(first).toMatch(/^\d{4}-/);
    // A new process sees what was stored.
    expect(new SqliteUserDirectory(db).groupsOf('alice')).toEqual(['a', 'b']);
  });

  test('bad team configuration names the field', () => {
    expect(TeamsConfigSchema.safeParse({ Vision: { groups: ['x'] } }).success).toBe(false);
    const empty = TeamsConfigSchema.safeParse({ vision: {} });
    expect(empty.success).toBe(false);
    expect(empty.error!.issues[0]!.message).toBe('a team needs at least one group or user');
    expect(() => loadConfig({ env: {}, flags: { home: '/tmp/x', teams: { ok: { users: ['bad name'] } } } })).toThrow(
      /teams\.ok\.users\.0: not a valid user name/,
    );
  });

  test('tokens carry groups in token mode', () => {
    const config = loadConfig({
      env: {},
      flags: {
        home: '/tmp/x',
        tokens: [{ token: 'secret-token-1', user: 'alice', groups: ['vision'] }],
        teams: { vision: { groups: ['vision'] } },
      },
    });
    expect(config.tokens).toEqual([{ token: 'secret-token-1', user: 'alice', admin: false, groups: ['vision'] }]);
  });
});
