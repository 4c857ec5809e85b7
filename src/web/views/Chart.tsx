import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { onThemeChange, seriesColors, themeColor } from '../palette';
import { asNumber } from './stats';
import type { Series } from './types';

export interface ChartProps {
  series: Series;
  /** 'bool' draws steps on a 0/1 axis. */
  mode: 'line' | 'bool';
  /** Object fields to draw, one series each; absent = the value itself. */
  fields?: string[];
  /** Accessible name of the chart. */
  label: string;
  /** Called with the selected time span after a drag; the page re-queries the server. */
  onZoom?: (t1: number, t2: number) => void;
  height?: number;
}

type Cols = [number[], ...(number | null)[][]];

/** Column arrays for uPlot; one allocation per column, not per datapoint. */
export function columns(s: Series, fields?: string[]): { data: Cols; names: string[]; band: boolean } {
  if (s.kind === 'buckets') {
    const n = s.buckets.length;
    const x = new Array<number>(n), mn = new Array<number | null>(n), mean = new Array<number | null>(n), mx = new Array<number | null>(n);
    for (let i = 0; i < n; i++) {
      const b = s.buckets[i];
      x[i] = b.t;
      mn[i] = b.d.min;
      mean[i] = b.d.mean;
      mx[i] = b.d.max;
    }
    return { data: [x, mean, mx, mn], names: ['mean', 'max', 'min'], band: true };
  }
  const pts = s.points;
  const n = pts.length;
  const x = new Array<number>(n);
  for (let i = 0; i < n; i++) x[i] = pts[i].t ?? 0;
  if (fields && fields.length) {
    const cols = fields.map(() => new Array<number | null>(n));
    for (let i = 0; i < n; i++) {
      const d = pts[i].d as Record<string, unknown> | null | undefined;
      for (let f = 0; f < fields.length; f++) cols[f][i] = d && typeof d === 'object' ? asNumber(d[fields[f]]) : null;
    }
    return { data: [x, ...cols], names: fields, band: false };
  }
  const y = new Array<number | null>(n);
  for (let i = 0; i < n; i++) y[i] = asNumber(pts[i].d);
  return { data: [x, y], names: ['value'], band: false };
}


export function Chart({ series, mode, fields, label, onZoom, height = 320 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shapeKey = useRef('');
  // Canvas colours are read once per plot: a theme switch rebuilds the plot.
  const [theme, setTheme] = useState(0);
  useEffect(() => onThemeChange(() => setTheme((n) => n + 1)), []);
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;

  const { data, names, band } = columns(series, fields);
  const key = `${mode}|${names.join(',')}|${band}|${theme}`;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    if (plot.current && shapeKey.current === key) {
      plot.current.setData(data as uPlot.AlignedData);
      el.setAttribute('data-drawn', String(data[0].length));
      return;
    }
    plot.current?.destroy();
    shapeKey.current = key;
    const fg = themeColor('--fg') || '#222';
    const grid = themeColor('--grid') || 'rgba(128,128,128,0.25)';
    const SERIES_COLOURS = seriesColors();
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const stepped = uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
    const ser: uPlot.Series[] = [{ label: 'time' }];
    names.forEach((name, i) => {
      const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
      if (band && i > 0) ser.push({ label: name, stroke: SERIES_COLOURS[0] + '66', width: 1 });
      else
        ser.push({
          label: name,
          stroke: colour,
          width: 1.5,
          fill: mode === 'bool' ? colour + '33' : undefined,
          paths: mode === 'bool' ? stepped : undefined,
          points: { show: series.kind === 'points' && series.points.length < 200 },
        });
    });
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      series: ser,
      bands: band ? [{ series: [2, 3], fill: SERIES_COLOURS[0] + '22' }] : undefined,
      cursor: { drag: { x: true, y: false, setScale: false } },
      scales: mode === 'bool' ? { y: { range: [-0.1, 1.1] } } : undefined,
      axes: [axis, { ...axis, values: mode === 'bool' ? (_u, ticks) => ticks.map((v) => (v === 1 ? 'true' : v === 0 ? 'false' : '')) : undefined }],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const t1 = u.posToVal(u.select.left, 'x');
            const t2 = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoomRef.current?.(t1, t2);
          },
        ],
      },
    };
    plot.current = new uPlot(opts, data as uPlot.AlignedData, el);
    el.setAttribute('data-drawn', String(data[0].length));
  });

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);

  return <div class="cdb-chart" ref={box} role="img" aria-label={label} data-points={data[0].length} />;
}
