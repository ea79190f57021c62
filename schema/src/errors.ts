/**
 * The API's error body and the one error type both clients (the CLI's and the JupyterLab extension's)
 * throw for a non-OK reply, so either can say which field a 400 is about.
 */
import { z } from 'zod';

/** One problem of a rejected request: where it is (a dotted field path, or a notebook position) and what. */
export const ErrorDetailSchema = z.object({
  /** Dotted field path in the request ("pipeline.spec.tasks.0.resources.gpu", "query.state"); "" for the whole body. */
  path: z.string(),
  message: z.string(),
  file: z.string().optional(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  /** 1-based cell position in the notebook. */
  cell: z.number().int().optional(),
  task: z.string().optional(),
});

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.array(ErrorDetailSchema).optional() }),
});

export type ErrorDetail = z.infer<typeof ErrorDetailSchema>;
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** The server (or something in front of it) answered with a non-OK status. */
export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  constructor(
    readonly status: number,
    /** The API's error code (`invalid`, `not_found`, `conflict`, `unreachable`...); undefined for a reply that is not the API's. */
    readonly code: string | undefined,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** Nothing answered, or the proxy in front of the server could not reach it. */
  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.code === 'unreachable';
  }

  /** The token was refused. */
  get unauthorized(): boolean {
    return this.status === 401;
  }

  /** No Cellpipe API answers at this address (a plain 404 page, not the API's JSON error). */
  get noApi(): boolean {
    return this.status === 404 && this.code === undefined;
  }

  /** The detail about one field (`query.state`, `parameters.lr`), if the server named it. */
  detailFor(path: string): ErrorDetail | undefined {
    return this.details.find((d) => d.path === path);
  }

  /** The details as lines a person can read: "cell 3, task 'train': ..." or "parameters.lr: ...". */
  detailLines(): string[] {
    return this.details.map((d) => {
      const where: string[] = [];
      if (d.cell !== undefined) where.push(`cell ${d.cell}`);
      if (d.task !== undefined) where.push(`task '${d.task}'`);
      if (!where.length && d.path) where.push(d.path);
      return where.length ? `${where.join(', ')}: ${d.message}` : d.message;
    });
  }
}

/**
 * The ApiError for a non-OK reply's status and body text: the API's `{error: {code, message, details}}`
 * when the body is one, else a short plain-text body or the status line (an HTML page from a proxy
 * is never shown).
 */
export function apiErrorFromReply(status: number, statusText: string, text: string): ApiError {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const parsed = ErrorBodySchema.safeParse(json);
  if (parsed.success) {
    const { code, message, details } = parsed.data.error;
    return new ApiError(status, code, message, details);
  }
  const plain = text && text.length < 300 && !text.trimStart().startsWith('<') ? text.trim() : '';
  return new ApiError(status, undefined, plain || `${status} ${statusText || 'error'}`.trim());
}
