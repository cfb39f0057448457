/** Elements from data without markup: every text goes through textContent, so no record can inject HTML. */
type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.replace(/^on/, ''), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(
  tag: string,
  attrs: Record<string, string | number> = {},
  ...children: Node[]
): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

/** `12:00:01.204` of an ISO time. */
export const clock = (iso: string | undefined): string => (iso === undefined ? '' : iso.slice(11, 23));

/**
 * Runs `render` (which replaces rows) and puts the keyboard focus back where it was: on the same control of the row
 * with the same `data-key`, so a live update never throws a keyboard user back to the top of the page.
 */
export function keepingFocus(container: Element, render: () => void): void {
  const active = document.activeElement;
  const row =
    active instanceof HTMLElement && container.contains(active) ? active.closest('[data-key]') : null;
  const key = row?.getAttribute('data-key');
  const index =
    row === null || row === undefined ? -1 : [...row.querySelectorAll(FOCUSABLE)].indexOf(active as Element);
  render();
  if (key === null || key === undefined || index === -1) return;
  const again = [...container.querySelectorAll('[data-key]')].find((r) => r.getAttribute('data-key') === key);
  const target = again?.querySelectorAll<HTMLElement>(FOCUSABLE)[index];
  target?.focus();
}

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';
