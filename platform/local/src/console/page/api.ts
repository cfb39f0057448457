/** The console's API, same origin: the cookie the printed URL set carries the token. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function answer<T>(res: Response): Promise<T> {
  if (res.ok) return (await res.json()) as T;
  let detail = `${res.status} ${res.statusText}`;
  try {
    const problem = (await res.json()) as { detail?: string; title?: string };
    detail = problem.detail ?? problem.title ?? detail;
  } catch {
    // not problem+json
  }
  throw new ApiError(res.status, detail);
}

// Under /console/: the cookie is scoped to that path (console-server.ts), so no other loopback service gets it.
const base = new URL('./', document.baseURI);

export async function getJson<T>(path: string): Promise<T> {
  return answer<T>(await fetch(new URL(path, base), { headers: { accept: 'application/json' } }));
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return answer<T>(
    await fetch(new URL(path, base), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}

export const streamUrl = (): string => new URL('v1/stream', base).href;
