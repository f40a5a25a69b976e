// qrSVG draws text as a QR code: an <svg> of one path (dark modules), built
// with DOM calls so that the strict CSP (no inline styles) holds. uqr (MIT,
// pinned in package-lock.json) does the encoding. ECC level M: a slip that
// gets a grease spot still scans.
import { encode } from 'uqr';

const NS = 'http://www.w3.org/2000/svg';

export function qrSVG(text, label) {
  const qr = encode(text, { ecc: 'M', border: 4 });
  const n = qr.size;
  let d = '';
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      if (!qr.data[y][x]) continue;
      let run = 1;
      while (x + run < n && qr.data[y][x + run]) run++;
      d += `M${x} ${y}h${run}v1h-${run}z`;
      x += run - 1;
    }
  }
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${n} ${n}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label || text);
  svg.setAttribute('class', 'qr');
  svg.dataset.text = text;
  const bg = document.createElementNS(NS, 'rect');
  bg.setAttribute('width', String(n));
  bg.setAttribute('height', String(n));
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', d);
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  return svg;
}
