/**
 * What a browser opening the server directly gets (a link in a notification): the OAuth callback
 * and logout of the authenticator's browser login, and a small page at the base path listing the
 * caller's latest jobs with links to their API resources. The JupyterLab extension is the real UI;
 * this page only proves the session and points there.
 */
import { Router, type Request, type Response } from 'express';
import type { Authenticator } from '../auth/authenticator.js';
import { LoginFailedError } from '../auth/authenticator.js';
import type { JobServiceApi } from '../jobs/job-service.js';
import type { Access } from './access.js';
import type { AuditLog } from './audit.js';
import { authenticate, principal, setCookies } from './auth-middleware.js';
import { BadRequestError } from './errors.js';

export interface BrowserRoutesOptions {
  authenticator: Authenticator;
  service: JobServiceApi;
  access: Access;
  basePath: string;
  audit?: AuditLog;
  /** Where a user's JupyterLab is (the Hub's user-redirect), linked from the page. */
  labUrl?: string;
  onPrincipal?: (p: { user: string; admin: boolean; groups: string[] }) => void;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function browserRouter(options: BrowserRoutesOptions): Router {
  const { authenticator, service, access, basePath, audit } = options;
  const r = Router();
  const cookiePath = basePath;
  const prefix = basePath === '/' ? '' : basePath;
  const login = authenticator.browserLogin;

  if (login) {
    r.get(`/${login.callbackPath}`, async (req: Request, res: Response) => {
      const at = new Date().toISOString();
      try {
        const done = await login.finish(req.query, req.headers);
        setCookies(req, res, done.cookies, cookiePath);
        audit?.record({ at, user: done.user, action: 'login', target: `${prefix}/`, status: 302, result: 'ok' });
        res.redirect(302, done.location);
      } catch (err) {
        if (!(err instanceof LoginFailedError)) throw err;
        audit?.record({
          at,
          action: 'login',
          target: `${prefix}/`,
          status: 400,
          result: 'denied',
          message: err.message,
        });
        throw new BadRequestError(err.message);
      }
    });
    r.get('/logout', (req: Request, res: Response) => {
      setCookies(req, res, login.logout(), cookiePath);
      res.type('text/plain').send('Logged out of Cellpipe. The Hub session is unchanged.\n');
    });
  }

  r.get(
    '/',
    authenticate(authenticator, { cookiePath, onPrincipal: options.onPrincipal }),
    (_req: Request, res: Response) => {
      const p = principal(res);
      const jobs = service.list({ owners: access.visibleOwners(p), limit: 20 }).items;
      const rows = jobs
        .map(
          (j) =>
            `<tr><td><a href="${prefix}/api/jobs/${escapeHtml(j.id)}">${escapeHtml(j.id)}</a></td>` +
            `<td>${escapeHtml(j.name)}</td><td>${escapeHtml(j.owner)}</td>` +
            `<td data-state="${escapeHtml(j.state)}">${escapeHtml(j.state)}</td><td>${escapeHtml(j.createdAt)}</td></tr>`,
        )
        .join('');
      const lab = options.labUrl ? ` <a href="${escapeHtml(options.labUrl)}">Open JupyterLab</a> ·` : '';
      res
        .type('html')
        .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
        .send(
          '<!doctype html><html><head><meta charset="utf-8"><title>Cellpipe</title>' +
            '<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .8em;text-align:left}</style></head><body>' +
            `<h1>Cellpipe</h1><p id="who">Signed in as <b>${escapeHtml(p.user)}</b>${p.admin ? ' (admin)' : ''}.` +
            `${lab} <a href="${prefix}/logout">Log out</a></p>` +
            `<table><thead><tr><th>Job</th><th>Name</th><th>Owner</th><th>State</th><th>Created</th></tr></thead>` +
            `<tbody>${rows}</tbody></table></body></html>`,
        );
    },
  );
  return r;
}
