// barChart draws grouped bars per day as an SVG, by hand: a few dozen
// elements, no library. Every bar carries a text label with its value
// (data-series, data-day), so the numbers can be read without hovering, by a
// screen reader (a table follows the chart) and by the e2e test. Colours come
// from console.css (.s0…s3), since the CSP allows no inline styles.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  for (const c of children) e.append(c);
  return e;
}

// niceMax rounds up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function barChart({ id, title, days, series }) {
  const W = Math.max(480, 60 + days.length * (series.length * 22 + 18));
  const H = 260;
  const left = 44;
  const bottom = 40;
  const top = 16;
  const plotH = H - top - bottom;
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null && v !== undefined))));
  const y = (v) => top + plotH - (v / max) * plotH;
  const group = series.length * 22;
  const slot = (W - left - 8) / Math.max(1, days.length);

  const titleId = `${id}-title`;
  const svg = el('svg', { id, class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': titleId, width: W, height: H });
  svg.append(el('title', { id: titleId }, title));
  // Axis and grid: 0, half, max.
  for (const v of [0, max / 2, max]) {
    svg.append(el('line', { class: 'grid', x1: left, x2: W - 8, y1: y(v), y2: y(v) }));
    svg.append(el('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(Math.round(v))));
  }
  days.forEach((day, i) => {
    const x0 = left + i * slot + (slot - group) / 2;
    series.forEach((s, j) => {
      const v = s.values[i];
      const x = x0 + j * 22;
      if (v !== null && v !== undefined) {
        svg.append(el('rect', { class: `bar s${j}`, x, y: y(v), width: 18, height: Math.max(0, top + plotH - y(v)), 'data-series': s.key, 'data-day': day }));
      }
      svg.append(
        el(
          'text',
          { class: 'value', x: x + 9, y: (v !== null && v !== undefined ? y(v) : top + plotH) - 3, 'text-anchor': 'middle', 'data-series': s.key, 'data-day': day },
          v === null || v === undefined ? '–' : String(v),
        ),
      );
    });
    svg.append(el('text', { class: 'axis', x: left + i * slot + slot / 2, y: H - bottom + 16, 'text-anchor': 'middle' }, day.slice(5)));
  });

  const legend = document.createElement('ul');
  legend.className = 'legend';
  series.forEach((s, j) => {
    const li = document.createElement('li');
    const sw = document.createElement('span');
    sw.className = `swatch s${j}`;
    li.append(sw, s.label);
    legend.append(li);
  });

  // The same numbers as a table, for screen readers and for copying.
  const table = document.createElement('table');
  table.className = 'chart-table';
  const cap = document.createElement('caption');
  cap.textContent = title;
  const head = document.createElement('tr');
  for (const text of ['', ...series.map((s) => s.label)]) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = text;
    head.append(th);
  }
  const thead = document.createElement('thead');
  thead.append(head);
  const tbody = document.createElement('tbody');
  days.forEach((day, i) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = day;
    tr.append(th);
    for (const s of series) {
      const td = document.createElement('td');
      td.textContent = s.values[i] === null || s.values[i] === undefined ? '–' : String(s.values[i]);
      tr.append(td);
    }
    tbody.append(tr);
  });
  table.append(cap, thead, tbody);

  const fig = document.createElement('figure');
  fig.className = 'chart-box';
  const caption = document.createElement('figcaption');
  caption.textContent = title;
  const scroll = document.createElement('div');
  scroll.className = 'scroll';
  scroll.append(svg);
  const details = document.createElement('details');
  const summary = document.createElement('summary');
  summary.textContent = '⋯';
  summary.setAttribute('aria-label', title);
  details.append(summary, table);
  fig.append(caption, legend, scroll, details);
  return fig;
}
