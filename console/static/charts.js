// Small line charts drawn as SVG: the last 60 readings of one figure, with its current value
// in the caption as text (what a screen reader announces).

const SVG = "http://www.w3.org/2000/svg";
const W = 300, H = 80, KEEP = 60;

function fmt(v) {
  if (v === null || v === undefined) return "–";
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

export class Chart {
  constructor(id, title) {
    this.points = [];
    this.value = document.createElement("output");
    this.value.id = `figure-${id}`;
    this.value.textContent = "waiting for a second reading…";
    const caption = document.createElement("figcaption");
    caption.append(`${title}: `, this.value);
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    this.svg.setAttribute("role", "img");
    this.svg.setAttribute("aria-label", `${title}, last ${KEEP} readings`);
    this.line = document.createElementNS(SVG, "polyline");
    this.line.setAttribute("fill", "none");
    this.line.setAttribute("stroke", "currentColor");
    this.line.setAttribute("stroke-width", "2");
    this.max = document.createElementNS(SVG, "text");
    this.max.setAttribute("x", "4");
    this.max.setAttribute("y", "12");
    this.max.setAttribute("font-size", "10");
    this.max.setAttribute("fill", "currentColor");
    this.svg.append(this.line, this.max);
    this.element = document.createElement("figure");
    this.element.className = "chart";
    this.element.dataset.chart = id;
    this.element.append(caption, this.svg);
  }

  waiting() { this.value.textContent = "waiting for a second reading…"; }

  push(v) {
    this.points.push(v);
    if (this.points.length > KEEP) this.points.shift();
    this.value.textContent = fmt(v);
    const top = Math.max(1, ...this.points);
    const step = W / (KEEP - 1);
    const start = KEEP - this.points.length;
    this.line.setAttribute("points", this.points.map((p, i) =>
      `${((start + i) * step).toFixed(1)},${(H - 2 - (p / top) * (H - 16)).toFixed(1)}`).join(" "));
    this.max.textContent = `max ${fmt(top)}`;
  }
}
