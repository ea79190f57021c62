/**
 * The hub the browser tests run against (testbed/hub/hub.js): a real JupyterHub with Cellpipe as its
 * service, alice's and bob's JupyterLab servers started, and each of them logged in once through
 * the Hub's login page (their browser state is saved for the tests). What the tests need is handed
 * to them in CELLPIPE_HUB (JSON); the returned function stops everything.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { hubSkipReason, startHub } from '../../testbed/hub/hub.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');

export interface HubInfo {
  proxyUrl: string;
  serviceUrl: string;
  password: string;
  /** Hub API tokens made for the tests (API-level checks). */
  tokens: Record<string, string>;
  /** Saved browser state (the Hub's cookies) of each user with a server. */
  storage: Record<string, string>;
  skip?: string;
}

export default async function globalSetup(): Promise<(() => Promise<void>) | undefined> {
  const skip = hubSkipReason();
  if (skip) {
    process.env.CELLPIPE_HUB = JSON.stringify({ skip });
    return undefined;
  }
  const work = join(here, '.work');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const started = Date.now();
  const hub = await startHub({
    root,
    work,
    users: { alice: ['cellpipe'], bob: ['cellpipe'], carol: [] },
    admins: ['admin'],
    spawnerArgs: [`--config=${join(here, 'jupyter_server_config.py')}`],
  });
  try {
    for (const user of ['alice', 'bob']) await hub.spawn(user);
    const tokens: Record<string, string> = {};
    for (const user of ['alice', 'bob', 'carol', 'admin']) tokens[user] = await hub.token(user);
    const storage: Record<string, string> = {};
    const browser = await chromium.launch({
      executablePath: process.env.CELLPIPE_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu'],
    });
    try {
      for (const user of ['alice', 'bob']) {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${hub.proxyUrl}/hub/login`);
        await page.fill('#username_input', user);
        await page.fill('#password_input', hub.password);
        await Promise.all([page.waitForURL(/\/(hub\/home|user\/)/), page.click('#login_submit')]);
        storage[user] = join(work, `${user}.storage.json`);
        await context.storageState({ path: storage[user] });
        await context.close();
      }
    } finally {
      await browser.close();
    }
    const info: HubInfo = {
      proxyUrl: hub.proxyUrl,
      serviceUrl: hub.serviceUrl,
      password: hub.password,
      tokens,
      storage,
    };
    process.env.CELLPIPE_HUB = JSON.stringify(info);
    writeFileSync(join(work, 'hub.json'), JSON.stringify(info, null, 2));
    console.log(`hub: up with alice's and bob's JupyterLab in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    await hub.stop();
    throw err;
  }
  return async () => {
    const t = Date.now();
    await hub.stop();
    console.log(`hub: stopped in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  };
}
