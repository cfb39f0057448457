export interface Station {
  readonly name: string;
  readonly bikes: number;
}

/** Text through textContent, never markup: data is not trusted. */
export function renderStations(list: HTMLUListElement, stations: readonly Station[]): void {
  list.replaceChildren(
    ...stations.map((s) => {
      const item = document.createElement('li');
      item.textContent = `${s.name}: ${s.bikes} bikes`;
      return item;
    }),
  );
}
