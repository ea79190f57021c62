/**
 * Objects keyed by names users choose (parameters, environment variables, dict keys): `constructor`
 * and `toString` are ordinary names there, so reads check the object's own keys and writes define
 * own properties (an assignment to `__proto__` would replace the object's prototype instead).
 */

/** `__proto__` is refused as a name: JSON parsers and schemas drop it, so it could never arrive intact. */
export const RESERVED_NAME = '__proto__';

export function ownValue<T>(o: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
