/** The monitor's main-area content: one Lumino tab per registered monitor tab, kept in rank order. */
import { TabPanel, type Widget } from '@lumino/widgets';
import type { MonitorTabRegistry } from './tabs.js';

const CLASS = 'jp-cellpipe-MonitorPanel';

export class MonitorPanel extends TabPanel {
  private readonly _widgets = new Map<string, Widget>();

  constructor(private readonly registry: MonitorTabRegistry) {
    super({ tabPlacement: 'top', tabsMovable: false });
    this.addClass(CLASS);
    this.tabBar.addClass(`${CLASS}-tabBar`);
    registry.changed.connect(this._sync, this);
    this._sync();
  }

  /** The widget of a tab, if that tab is registered. */
  tab(id: string): Widget | undefined {
    return this._widgets.get(id);
  }

  /** Brings a tab to the front; false when no such tab is registered. */
  showTab(id: string): boolean {
    const widget = this._widgets.get(id);
    if (!widget) return false;
    this.currentWidget = widget;
    return true;
  }

  get currentTab(): string | null {
    for (const [id, w] of this._widgets) if (w === this.currentWidget) return id;
    return null;
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.registry.changed.disconnect(this._sync, this);
    super.dispose();
  }

  private _sync(): void {
    const wanted = new Set(this.registry.tabs.map((t) => t.id));
    for (const [id, widget] of this._widgets) {
      if (!wanted.has(id)) {
        this._widgets.delete(id);
        widget.dispose();
      }
    }
    this.registry.tabs.forEach((tab, index) => {
      let widget = this._widgets.get(tab.id);
      if (!widget) {
        widget = tab.create();
        widget.title.label = tab.label;
        widget.node.dataset['tab'] = tab.id;
        this._widgets.set(tab.id, widget);
      }
      if (this.widgets[index] !== widget) this.insertWidget(index, widget);
    });
  }
}
