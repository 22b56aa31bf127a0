import type { TargetRow } from '../api-types.js';
import { cssVar } from '../theme.js';

/**
 * The last hour of one target in 120×28 pixels: the rtt line, and a red
 * tick under every slot with loss. Hand-drawn on a canvas: a chart library
 * instance per row would cost more than the whole table at 100 rows a page.
 */
export function drawSparkline(canvas: HTMLCanvasElement, spark: NonNullable<TargetRow['spark']>): number {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 120;
  const hgt = canvas.clientHeight || 28;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(hgt * dpr);
  const ctx = canvas.getContext('2d');
  if (!ctx) return 0;
  ctx.scale(dpr, dpr);
  ctx.clearRect(0, 0, w, hgt);
  const rtt = spark.rtt_ms;
  const loss = spark.loss_pct;
  const n = Math.max(rtt.length, loss.length);
  if (n === 0) return 0;
  let max = 0;
  for (const v of rtt) if (v !== null && v > max) max = v;
  const x = (i: number) => (n === 1 ? w / 2 : (i / (n - 1)) * (w - 2) + 1);
  const y = (v: number) => hgt - 4 - (max > 0 ? (v / max) * (hgt - 7) : 0);
  let drawn = 0;
  ctx.strokeStyle = cssVar('--accent');
  ctx.lineWidth = 1.25;
  ctx.beginPath();
  let pen = false;
  for (let i = 0; i < rtt.length; i++) {
    const v = rtt[i];
    if (v === null || v === undefined) {
      pen = false;
      continue;
    }
    drawn++;
    if (pen) ctx.lineTo(x(i), y(v));
    else ctx.moveTo(x(i), y(v));
    pen = true;
  }
  ctx.stroke();
  // A value with no neighbour draws no line: give it a dot, or an hour with one sample looks empty.
  ctx.fillStyle = cssVar('--accent');
  for (let i = 0; i < rtt.length; i++) {
    const v = rtt[i];
    const lone = v !== null && v !== undefined && (rtt[i - 1] ?? null) === null && (rtt[i + 1] ?? null) === null;
    if (lone) ctx.fillRect(x(i) - 1.5, y(v) - 1.5, 3, 3);
  }
  ctx.fillStyle = cssVar('--bad');
  for (let i = 0; i < loss.length; i++) {
    const l = loss[i];
    if (l !== null && l !== undefined && l > 0) ctx.fillRect(x(i) - 1, hgt - 3, 2, 3);
  }
  return drawn;
}
