/** The vehicle list: a row per vehicle (id, status, speed, last seen); a row is selected by click, Enter or Space. */
import { ago, type Fleet, type Vehicle } from './state.ts';

export class VehicleList {
  readonly #body: HTMLTableSectionElement;
  readonly #rows = new Map<string, HTMLTableRowElement>();
  readonly #onSelect: (id: string) => void;

  constructor(table: HTMLTableElement, onSelect: (id: string) => void) {
    this.#body = table.tBodies[0] ?? table.createTBody();
    this.#onSelect = onSelect;
  }

  update(fleet: Fleet, v: Vehicle, selected: string | undefined): void {
    let row = this.#rows.get(v.id);
    if (row === undefined) {
      row = document.createElement('tr');
      row.dataset.vehicle = v.id;
      row.tabIndex = 0;
      for (let i = 0; i < 4; i++) row.insertCell();
      const header = document.createElement('th');
      header.scope = 'row';
      row.replaceChild(header, row.cells[0] as HTMLTableCellElement);
      const id = v.id;
      row.addEventListener('click', () => this.#onSelect(id));
      row.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          this.#onSelect(id);
        }
      });
      // In id order.
      const after = [...this.#rows.keys()].filter((k) => k > v.id).sort()[0];
      this.#body.insertBefore(row, after === undefined ? null : (this.#rows.get(after) ?? null));
      this.#rows.set(v.id, row);
    }
    const status = fleet.statusOf(v);
    row.className = `${status}${selected === v.id ? ' selected' : ''}`;
    row.setAttribute('aria-selected', String(selected === v.id));
    const [idCell, statusCell, speedCell, seenCell] = row.cells;
    if (idCell) idCell.textContent = v.id;
    if (statusCell) statusCell.textContent = status;
    if (speedCell) speedCell.textContent = status === 'offline' ? '–' : `${v.speedKmh.toFixed(0)} km/h`;
    if (seenCell) seenCell.textContent = ago(fleet.serverNow() - Date.parse(v.lastSeen));
  }
}
