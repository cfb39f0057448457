/** A vehicle's speed over time: one SVG polyline with its axes' extremes labelled. */
import type { PositionPoint } from './state.ts';

const SVG = 'http://www.w3.org/2000/svg';
const W = 400;
const H = 160;
const PAD = { left: 34, right: 6, top: 8, bottom: 18 };

function text(x: number, y: number, value: string, anchor = 'start'): SVGTextElement {
  const t = document.createElementNS(SVG, 'text');
  t.setAttribute('x', String(x));
  t.setAttribute('y', String(y));
  t.setAttribute('text-anchor', anchor);
  t.textContent = value;
  return t;
}

export function drawSpeedChart(svg: SVGSVGElement, points: readonly PositionPoint[]): void {
  for (const child of [...svg.children])
    if (child.tagName !== 'desc' && child.tagName !== 'title') child.remove();
  const accepted = points.filter((p) => p.kind !== 'rejected');
  if (accepted.length < 2) {
    svg.append(text(W / 2, H / 2, 'no history yet', 'middle'));
    return;
  }
  const t0 = Date.parse(accepted[0]?.time ?? '');
  const t1 = Date.parse(accepted.at(-1)?.time ?? '');
  const top = Math.max(10, Math.ceil(Math.max(...accepted.map((p) => p.speedKmh)) / 10) * 10);
  const x = (t: number) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const axis = document.createElementNS(SVG, 'path');
  axis.setAttribute('class', 'axis');
  axis.setAttribute('d', `M${PAD.left} ${PAD.top}V${H - PAD.bottom}H${W - PAD.right}`);
  const line = document.createElementNS(SVG, 'polyline');
  line.setAttribute('class', 'speed');
  line.setAttribute(
    'points',
    accepted.map((p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.speedKmh).toFixed(1)}`).join(' '),
  );
  const seconds = Math.round((t1 - t0) / 1000);
  svg.append(
    axis,
    line,
    text(PAD.left - 4, PAD.top + 8, `${top}`, 'end'),
    text(PAD.left - 4, H - PAD.bottom, '0', 'end'),
    text(PAD.left, H - 4, seconds >= 120 ? `${Math.round(seconds / 60)} min before` : `${seconds} s before`),
    text(W - PAD.right, H - 4, 'last fix', 'end'),
    text(PAD.left + 4, PAD.top + 8, 'km/h'),
  );
}
