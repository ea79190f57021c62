/**
 * "Notify" in the Run and Schedule dialogs: when to send the run's end (never, on failure, on success,
 * always) and to which of the user's targets (theirs and the site-wide ones; the server keeps their
 * URLs). The value is the rules the API takes: none, or one rule.
 */
import type { NotifyOn, NotifyRule, Target, TargetList } from '@cellpipe/schema';
import * as React from 'react';
import { describeError } from '../api/client.js';
import { useTrans } from '../translation.js';

const CLASS = 'jp-cellpipe-Notify';

function useTargets(load: () => Promise<TargetList>): { targets: Target[] | null; error: string | null } {
  const [state, setState] = React.useState<{ targets: Target[] | null; error: string | null }>({
    targets: null,
    error: null,
  });
  React.useEffect(() => {
    let live = true;
    load().then(
      (list) => live && setState({ targets: list.items, error: null }),
      (err: unknown) => live && setState({ targets: [], error: describeError(err) }),
    );
    return () => {
      live = false;
    };
  }, [load]);
  return state;
}

export function NotifyField(props: {
  load: () => Promise<TargetList>;
  value: NotifyRule[];
  onChange: (rules: NotifyRule[]) => void;
  /** Prefix of the element ids (one dialog may hold one field). */
  idPrefix: string;
}): React.ReactElement {
  const trans = useTrans();
  const { targets, error } = useTargets(props.load);
  const rule = props.value[0];
  const [on, setOn] = React.useState<NotifyOn | 'never'>(rule?.on ?? 'never');
  const [chosen, setChosen] = React.useState<string[]>(rule?.targets ?? []);
  const emit = (nextOn: NotifyOn | 'never', nextChosen: string[]): void => {
    setOn(nextOn);
    setChosen(nextChosen);
    props.onChange(nextOn === 'never' || !nextChosen.length ? [] : [{ on: nextOn, targets: nextChosen }]);
  };
  const choices: [NotifyOn | 'never', string][] = [
    ['never', trans.__('Do not notify')],
    ['failure', trans.__('When it fails')],
    ['success', trans.__('When it succeeds')],
    ['always', trans.__('When it ends')],
  ];
  const selectId = `${props.idPrefix}-notify-on`;
  return (
    <fieldset className={CLASS}>
      <legend>{trans.__('Notify')}</legend>
      <label htmlFor={selectId}>{trans.__('When')}</label>
      <select
        id={selectId}
        className="jp-mod-styled"
        value={on}
        onChange={(e) => emit(choices.find(([v]) => v === e.currentTarget.value)?.[0] ?? 'never', chosen)}
      >
        {choices.map(([v, label]) => (
          <option key={v} value={v}>
            {label}
          </option>
        ))}
      </select>
      {on !== 'never' ? (
        <div className={`${CLASS}-targets`} role="group" aria-label={trans.__('Targets')}>
          {targets === null ? <span>{trans.__('Loading targets…')}</span> : null}
          {targets?.length === 0 && !error ? (
            <span>{trans.__('No targets yet: define one with `cellpipe notify add`.')}</span>
          ) : null}
          {error ? <span role="alert">{error}</span> : null}
          {targets?.map((t) => (
            <label key={t.id} className={`${CLASS}-target`}>
              <input
                type="checkbox"
                checked={chosen.includes(t.name)}
                onChange={(e) =>
                  emit(on, e.currentTarget.checked ? [...chosen, t.name] : chosen.filter((n) => n !== t.name))
                }
              />
              {t.name} ({t.kind}
              {t.scope === 'site' ? `, ${trans.__('site-wide')}` : ''})
            </label>
          ))}
        </div>
      ) : null}
    </fieldset>
  );
}
