/** The body of "Re-run with my changes": which tasks are reused, which run again, and why. */
import type { RerunPlan } from '@cellpipe/schema';
import { ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';
import { TransContext, useTrans } from '../../translation.js';

const CLASS = 'jp-cellpipe-RerunPlan';

export function RerunPlanList(props: { plan: RerunPlan; source: string }): React.ReactElement {
  const trans = useTrans();
  const { plan } = props;
  const runs = plan.tasks.filter((t) => !t.reuse).length;
  return (
    <div className={CLASS}>
      <p>
        {trans.__(
          'Runs %1 as it is now. Tasks whose code, setup cells, parameters, image, environment and inputs are the same as in job %2 (where they succeeded) are not run again: their results are reused.',
          props.source,
          plan.jobId,
        )}
      </p>
      <table className={`${CLASS}-table`}>
        <thead>
          <tr>
            <th>{trans.__('Task')}</th>
            <th>{trans.__('In the new job')}</th>
            <th>{trans.__('Why')}</th>
          </tr>
        </thead>
        <tbody>
          {plan.tasks.map((t) => (
            <tr key={t.name} data-plan-task={t.name} data-reuse={t.reuse}>
              <td>{t.name}</td>
              <td className={t.reuse ? `${CLASS}-reuse` : `${CLASS}-run`}>
                {t.reuse ? trans.__('reused') : trans.__('runs')}
              </td>
              <td>{t.reasons.map((r) => r.message).join('; ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className={`${CLASS}-summary`}>
        {trans.__(
          '%1, %2.',
          trans._n('%1 task runs', '%1 tasks run', runs),
          trans._n('%1 is reused', '%1 are reused', plan.tasks.length - runs),
        )}
      </p>
    </div>
  );
}

export class RerunPlanBody extends ReactWidget {
  constructor(
    private readonly plan: RerunPlan,
    private readonly source: string,
    private readonly trans: TranslationBundle,
  ) {
    super();
  }

  protected render(): React.ReactElement {
    return (
      <TransContext.Provider value={this.trans}>
        <RerunPlanList plan={this.plan} source={this.source} />
      </TransContext.Provider>
    );
  }
}
