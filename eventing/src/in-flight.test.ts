import { describe, expect, it } from 'vitest';
import { CallbackList, InFlight } from './in-flight.ts';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('InFlight', () => {
  it('is settled at once when nothing is in flight', async () => {
    const work = new InFlight();
    let done = false;
    await work.settled().then(() => (done = true));
    expect(done).toBe(true);
  });

  it('settles once every piece of work has, fulfilled or rejected, and counts them meanwhile', async () => {
    const work = new InFlight();
    let resolveA: () => void = () => {};
    let rejectB: (e: Error) => void = () => {};
    const a = new Promise<void>((r) => (resolveA = r));
    const b = new Promise<void>((_, j) => (rejectB = j));
    b.catch(() => {}); // the outcome stays the caller's
    work.track(a);
    work.track(b);
    work.enter();
    expect(work.size).toBe(3);
    let settled = false;
    void work.settled().then(() => (settled = true));
    resolveA();
    await a;
    rejectB(new Error('refused'));
    await turn();
    expect(work.size).toBe(1);
    expect(settled).toBe(false);
    work.leave();
    await turn();
    expect(settled).toBe(true);
    expect(work.size).toBe(0);
  });

  it('does not go below zero on a leave too many', () => {
    const work = new InFlight();
    work.leave();
    work.enter();
    expect(work.size).toBe(1);
  });
});

describe('CallbackList', () => {
  it('hands back what is still in it, once, whatever was removed in between and in what order', () => {
    const list = new CallbackList();
    const called: number[] = [];
    const entries = [0, 1, 2, 3, 4, 5].map((n) => list.add(() => called.push(n)));
    list.remove(entries[0] as (typeof entries)[number]);
    list.remove(entries[4] as (typeof entries)[number]);
    list.remove(entries[4] as (typeof entries)[number]); // twice: nothing more
    list.remove(entries[2] as (typeof entries)[number]);
    expect(list.size).toBe(3);
    for (const f of list.takeAll()) f();
    expect(called.sort()).toEqual([1, 3, 5]);
    expect(list.size).toBe(0);
    expect(list.takeAll()).toEqual([]);
    list.remove(entries[1] as (typeof entries)[number]); // taken already: nothing
    expect(list.size).toBe(0);
  });

  it('ignores an entry of another list', () => {
    const a = new CallbackList();
    const b = new CallbackList();
    a.add(() => {});
    const other = b.add(() => {});
    a.remove(other);
    expect(a.size).toBe(1);
    expect(b.size).toBe(1);
  });
});
