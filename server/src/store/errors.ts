/** Errors of the store, whatever its backend; callers map them to their own (the HTTP layer to 400). */

export class StoreError extends Error {
  constructor(
    message: string,
    /**
     * `invalid-cursor`: a page cursor that no listing of this store produced.
     * `duplicate-name`: the owner already has a record of that kind with that name (`field` names it).
     */
    readonly code: 'invalid-cursor' | 'duplicate-name',
    readonly field?: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

/**
 * The disk that holds the store or the job files is full. Nothing of the change was written (a
 * transaction is all or nothing); the same call works again once space is freed.
 */
export class StorageFullError extends Error {
  constructor(
    /** The file or folder that could not be written. */
    readonly path: string,
  ) {
    super(`the disk holding ${path} is full`);
    this.name = 'StorageFullError';
  }
}

/** A full disk, as SQLite (SQLITE_FULL) or the file system (ENOSPC, EDQUOT) reports it. */
export function isStorageFull(err: unknown): boolean {
  if (err instanceof StorageFullError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}
