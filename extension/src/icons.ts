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

/** A tag with a small box: one cell's task settings (the task editor), unlike the pipeline's three boxes. */
const taskSvgstr = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h8.6l9.4 9.4-8.6 8.6L3 11.6V3zm2 2v5.8l7.4 7.4 5.8-5.8L10.8 5H5z"/>
    <circle cx="7.5" cy="7.5" r="1.5"/>
  </g>
</svg>`;

export const cellpipeTaskIcon = new LabIcon({ name: 'cellpipe:task', svgstr: taskSvgstr });
