/** The page's model: vehicles by id as vehicles-api describes them, and the server's clock. */
export interface Vehicle {
  readonly id: string;
  status: 'moving' | 'stopped' | 'offline';
  lastSeen: string;
  position: { latitude: number; longitude: number };
  speedKmh: number;
  headingDeg: number;
}

export interface PositionPoint {
  readonly time: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly kind: 'accepted' | 'jitter' | 'rejected';
  readonly speedKmh: number;
}

/** A vehicle not heard from for this long is offline (the tracker's FLEET_OFFLINE_AFTER default). */
export const OFFLINE_AFTER_MS = 60_000;

export class Fleet {
  readonly vehicles = new Map<string, Vehicle>();
  /** Server time minus local time, from the stream's events: statuses follow the server's clock. */
  #skewMs = 0;

  serverNow(): number {
    return Date.now() + this.#skewMs;
  }

  setServerTime(iso: string): void {
    const t = Date.parse(iso);
    if (Number.isFinite(t)) this.#skewMs = t - Date.now();
  }

  upsert(v: Vehicle): void {
    this.vehicles.set(v.id, { ...v });
  }

  /** The status now: a vehicle the stream has not updated goes offline by the clock alone. */
  statusOf(v: Vehicle): Vehicle['status'] {
    if (this.serverNow() - Date.parse(v.lastSeen) > OFFLINE_AFTER_MS) return 'offline';
    return v.status === 'offline' ? 'stopped' : v.status;
  }

  sorted(): Vehicle[] {
    return [...this.vehicles.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}

/** "12 s ago", "3 min ago", "2 h ago". */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}
