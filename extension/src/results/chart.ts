/**
 * The geometry of a small line chart of one result over a pipeline's runs (oldest first): pure, so
 * it is tested without a browser. Runs without a number for the result leave a gap in the line.
 */

export interface ChartPoint {
  /** Index of the run, oldest first. */
  run: number;
  value: number;
  x: number;
  y: number;
}

export interface ChartGeometry {
  points: ChartPoint[];
  /** SVG path of the line, one segment per stretch of runs that have the value. */
  path: string;
  min: number;
  max: number;
}

export function chartGeometry(
  values: readonly (number | undefined)[],
  size: { width: number; height: number; pad: number },
): ChartGeometry | null {
  const known = values.filter((v): v is number => v !== undefined);
  if (!known.length) return null;
  const min = Math.min(...known);
  const max = Math.max(...known);
  const span = max - min;
  const w = size.width - 2 * size.pad;
  const h = size.height - 2 * size.pad;
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const points: ChartPoint[] = [];
  let path = '';
  let open = false;
  values.forEach((value, run) => {
    if (value === undefined) {
      open = false;
      return;
    }
    const x = size.pad + (values.length > 1 ? run * step : w / 2);
    // A flat series sits in the middle.
    const y = size.pad + (span === 0 ? h / 2 : h - ((value - min) / span) * h);
    points.push({ run, value, x, y });
    path += `${open ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    open = true;
  });
  return { points, path, min, max };
}
