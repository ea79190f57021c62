import { LabIcon } from '@jupyterlab/ui-components';

/** Three linked boxes: a small pipeline. */
const svgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="2" y="3" width="7" height="5" rx="1"/>
    <rect x="15" y="3" width="7" height="5" rx="1"/>
    <rect x="8.5" y="16" width="7" height="5" rx="1"/>
    <path d="M5 8v3.5h14V8h1.5v5H12.75v3h-1.5v-3H3.5V8z"/>
  </g>
</svg>`;

export const cellpipeIcon = new LabIcon({ name: 'cellpipe:pipeline', svgstr });
