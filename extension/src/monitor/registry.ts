/**
 * Things other plugins add to the monitor (tabs, sections of the job view), kept in rank order: a
 * registration returns an IDisposable that takes it away again, and the registry says when its
 * set changes.
 */
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';

export class RankedRegistry<T extends { id: string; rank: number }> {
  private readonly _items: T[] = [];
  private readonly _changed = new Signal<this, void>(this);

  /** `what` names an item in errors ("a monitor tab"). */
  constructor(private readonly what: string) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The items, lowest rank first (registration order among equal ranks). */
  get items(): readonly T[] {
    return this._items;
  }

  /** @throws {Error} when an item with the same id is already registered. */
  add(item: T): IDisposable {
    if (this._items.some((t) => t.id === item.id)) throw new Error(`${this.what} '${item.id}' is already registered`);
    const at = this._items.findIndex((t) => t.rank > item.rank);
    this._items.splice(at < 0 ? this._items.length : at, 0, item);
    this._changed.emit();
    return new DisposableDelegate(() => {
      const i = this._items.indexOf(item);
      if (i < 0) return;
      this._items.splice(i, 1);
      this._changed.emit();
    });
  }
}
