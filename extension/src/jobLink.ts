/** Links that open the monitor on a job: `<lab>/lab?cellpipe-job=<id>` (server/src/links.ts makes them). */

export const JOB_LINK_PARAM = 'cellpipe-job';

/** The job id a link's query asks for, if it is one (the server checks it again when the job loads). */
export function jobOfLink(search: string | undefined): string | null {
  const id = new URLSearchParams(search ?? '').get(JOB_LINK_PARAM);
  return id && /^[a-z0-9]{6,32}$/.test(id) ? id : null;
}
