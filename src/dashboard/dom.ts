/** A few DOM helpers: elements are built with textContent only (never innerHTML), so data cannot become markup. */

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | boolean | number | null | undefined | EventListener>;

/** An element with attributes (`on…` keys are listeners; false/null/undefined leave the attribute out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === 'function') element.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) element.setAttribute(name, '');
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return element;
}

/** The element with this id; a missing one is a bug in index.html. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}

export function show(element: HTMLElement, visible: boolean): void {
  element.hidden = !visible;
}

/** A table with a caption (its accessible name), header cells with scope, and rows of cells. */
export function table(caption: string, headers: { label: string; numeric?: boolean }[], rows: { cells: Child[]; className?: string }[]): HTMLElement {
  const numeric = headers.map((header) => header.numeric === true);
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headers.map((header) => h('th', { scope: 'col', class: header.numeric ? 'num' : null }, header.label)))),
    h('tbody', {}, ...rows.map((row) => h('tr', { class: row.className ?? null }, ...row.cells.map((cell, i) => h('td', { class: numeric[i] ? 'num' : null }, cell))))),
  ));
}

export function replace(container: HTMLElement, ...children: Child[]): void {
  container.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}
