/** Errors of the store, whatever its backend; callers map them to their own (the HTTP layer to 400). */

export class StoreError extends Error {
  constructor(
    message: string,
    /** `invalid-cursor`: a page cursor that no listing of this store produced. */
    readonly code: 'invalid-cursor',
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
