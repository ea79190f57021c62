/** Typed errors of the job service; the HTTP layer maps them to statuses (404, 409, 400, 413, 507). */

export class NotFoundError extends Error {
  readonly code = 'not_found';
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  readonly code = 'conflict';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

export interface ValidationIssue {
  message: string;
  /** Field path in the request, e.g. ['parameters', 'lr'] or ['pipeline', 'spec', 'tasks', 2, 'dependsOn']. */
  path: (string | number)[];
  /** Compiler diagnostics carry a source position. */
  file?: string;
  line?: number;
  column?: number;
  cell?: number;
  task?: string;
}

export class ValidationError extends Error {
  readonly code = 'invalid';
  /** The first issue's path, joined with "." ("parameters.lr"). */
  readonly path: string;
  readonly issues: ValidationIssue[];
  constructor(message: string, path: (string | number)[], issues?: ValidationIssue[]) {
    super(message);
    this.name = 'ValidationError';
    this.path = path.join('.');
    this.issues = issues ?? [{ message, path }];
  }
}

/** A submission over one of the configured limits (tasks, notebook size, cells): the request is refused whole. */
export class TooLargeError extends Error {
  readonly code = 'too_large';
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[]) {
    super(message);
    this.name = 'TooLargeError';
    this.path = path;
  }
}
