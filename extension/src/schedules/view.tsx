/** A monitor tab over the schedules model: re-rendered on every change, refreshed when shown. */
import { ReactWidget, UseSignal } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { TransContext } from '../translation.js';
import type { SchedulesModel } from './model.js';

export class CatalogView extends ReactWidget {
  constructor(
    private readonly model: SchedulesModel,
    private readonly trans: TranslationBundle,
    className: string,
    private readonly body: () => React.ReactElement,
  ) {
    super();
    this.addClass(className);
  }

  protected override onAfterShow(): void {
    void this.model.refresh();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <UseSignal signal={this.model.changed}>{() => this.body()}</UseSignal>
      </TransContext.Provider>
    );
  }
}
