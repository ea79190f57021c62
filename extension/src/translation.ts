/**
 * Every string a user sees goes through one gettext domain; React components read the bundle from a
 * context so leaf components need no prop for it.
 */
import { nullTranslator, type ITranslator, type TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

export const TRANSLATION_DOMAIN = 'cellpipe_jupyterlab';

/** The bundle of Cellpipe's domain (English when JupyterLab has no translator or language pack). */
export function cellpipeTrans(translator: ITranslator | null | undefined): TranslationBundle {
  return (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
}

export const TransContext = React.createContext<TranslationBundle>(cellpipeTrans(null));

export function useTrans(): TranslationBundle {
  return React.useContext(TransContext);
}
