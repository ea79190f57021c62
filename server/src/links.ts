/**
 * Links into JupyterLab: `<labUrl>/lab?cellpipe-job=<id>` opens the Cellpipe monitor on that job (the
 * extension's deep-link plugin reads the parameter). `labUrl` is where JupyterLab is served: a plain
 * server's base URL, or under JupyterHub the Hub's user-redirect (`https://hub.example.org/hub/user-redirect`),
 * which sends each user to their own server.
 */

/** The query parameter the extension reads. */
export const JOB_LINK_PARAM = 'cellpipe-job';

export function jobLink(labUrl: string, jobId: string): string {
  return `${labUrl.replace(/\/+$/, '')}/lab?${JOB_LINK_PARAM}=${encodeURIComponent(jobId)}`;
}
