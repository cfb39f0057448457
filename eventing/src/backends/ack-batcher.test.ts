import { describe, expect, it } from 'vitest';
import { AckBatcher, type AckChannel, type Tagged } from './ack-batcher.ts';

const message = (deliveryTag: number): Tagged => ({ fields: { deliveryTag } });

/** A channel that records its frames, and a batcher flushed by hand. */
function setup() {
  const frames: string[] = [];
  const channel: AckChannel<Tagged> = {
    ack: (m, allUpTo) => frames.push(`ack ${m.fields.deliveryTag}${allUpTo ? ' multiple' : ''}`),
    nack: (m, _allUpTo, requeue) => frames.push(`nack ${m.fields.deliveryTag}${requeue ? ' requeue' : ''}`),
  };
  const turns: (() => void)[] = [];
  const acks = new AckBatcher(channel, (flush) => turns.push(flush));
  const endTurn = (): void => {
    for (const flush of turns.splice(0)) flush();
  };
  const deliver = (...tags: number[]): Tagged[] =>
    tags.map((t) => {
      const m = message(t);
      acks.delivered(m);
      return m;
    });
  return { frames, acks, endTurn, deliver };
}

describe('AckBatcher', () => {
  describe('flush', () => {
    it('acks the settled head of the unsettled deliveries with one multiple ack, once per turn', () => {
      const { frames, acks, endTurn, deliver } = setup();
      const [m1, m2, m3] = deliver(1, 2, 3, 4);
      acks.ack(m2 as Tagged);
      acks.ack(m1 as Tagged);
      acks.ack(m3 as Tagged);
      expect(frames).toEqual([]); // nothing before the turn ends
      endTurn();
      expect(frames).toEqual(['ack 3 multiple']);
    });

    it('acks settled deliveries behind an unsettled one one by one, never with multiple over it', () => {
      const { frames, acks, endTurn, deliver } = setup();
      const [m1, m2, m3] = deliver(1, 2, 3);
      acks.ack(m3 as Tagged);
      acks.ack(m2 as Tagged);
      endTurn();
      expect(frames).toEqual(['ack 3', 'ack 2']);
      acks.ack(m1 as Tagged);
      endTurn();
      expect(frames).toEqual(['ack 3', 'ack 2', 'ack 1']);
    });

    it('sends a nack at once and lets a later multiple ack pass over its tag', () => {
      const { frames, acks, endTurn, deliver } = setup();
      const [m1, m2, m3] = deliver(1, 2, 3);
      acks.ack(m1 as Tagged);
      acks.nack(m2 as Tagged, true);
      acks.ack(m3 as Tagged);
      expect(frames).toEqual(['nack 2 requeue']);
      endTurn();
      expect(frames).toEqual(['nack 2 requeue', 'ack 3 multiple']);
    });

    it('sends each delivery once: a second ack, or a nack after the ack, sends nothing', () => {
      const { frames, acks, endTurn, deliver } = setup();
      const [m1] = deliver(1);
      acks.ack(m1 as Tagged);
      acks.ack(m1 as Tagged);
      endTurn();
      acks.nack(m1 as Tagged, true);
      acks.ack(m1 as Tagged);
      endTurn();
      expect(frames).toEqual(['ack 1']);
    });

    it('sends what waits when flushed by hand (before a channel closes)', () => {
      const { frames, acks, deliver } = setup();
      const [m1, m2] = deliver(1, 2);
      acks.ack(m1 as Tagged);
      acks.ack(m2 as Tagged);
      acks.flush();
      expect(frames).toEqual(['ack 2 multiple']);
    });

    it('swallows the error of a channel that closed meanwhile (RabbitMQ requeues its messages)', () => {
      const closed: AckChannel<Tagged> = {
        ack: () => {
          throw new Error('Channel closed');
        },
        nack: () => {
          throw new Error('Channel closed');
        },
      };
      const acks = new AckBatcher(closed, () => {});
      const m = message(1);
      acks.delivered(m);
      acks.ack(m);
      expect(() => acks.flush()).not.toThrow();
    });
  });

  describe('against a model of the channel', () => {
    /** RabbitMQ's side: what is outstanding, and what each frame settles (a `multiple` settles every tag up to it). */
    function modelChannel(userAcked: Set<number>) {
      const outstanding = new Set<number>();
      const settled = new Map<number, 'ack' | 'nack'>();
      const violations: string[] = [];
      const settle = (tag: number, how: 'ack' | 'nack'): void => {
        if (!outstanding.delete(tag)) violations.push(`${how} ${tag}: not outstanding`);
        else if (how === 'ack' && !userAcked.has(tag))
          violations.push(`ack ${tag}: not acked by the handler`);
        else settled.set(tag, how);
      };
      const channel: AckChannel<Tagged> = {
        ack: (m, allUpTo) => {
          const tag = m.fields.deliveryTag;
          if (allUpTo)
            for (const t of [...outstanding].filter((t) => t <= tag).sort((a, b) => a - b)) settle(t, 'ack');
          else settle(tag, 'ack');
        },
        nack: (m) => settle(m.fields.deliveryTag, 'nack'),
      };
      return { channel, outstanding, settled, violations };
    }

    it('settles every delivery once, in any order, over thousands of deliveries and a head held for long', () => {
      let seed = 20261202;
      const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const userAcked = new Set<number>();
      const { channel, outstanding, settled, violations } = modelChannel(userAcked);
      const turns: (() => void)[] = [];
      const acks = new AckBatcher(channel, (flush) => turns.push(flush));
      const pending: Tagged[] = [];
      let nacked = 0;
      let tag = 0;
      const held = message(1); // the first delivery stays unsettled for half the run
      for (let turn = 0; turn < 600; turn++) {
        for (let k = Math.floor(random() * 20); k > 0; k--) {
          const m = ++tag === 1 ? held : message(tag);
          outstanding.add(tag);
          acks.delivered(m);
          if (m !== held) pending.push(m);
        }
        if (turn === 300) {
          userAcked.add(1);
          acks.ack(held);
        }
        for (let k = Math.floor(random() * 20); k > 0 && pending.length > 0; k--) {
          // Mostly the oldest first (the head moves on, and the slots behind it are cut off), now and then any.
          const at = random() < 0.7 ? 0 : Math.floor(random() * pending.length);
          const [m] = pending.splice(at, 1) as [Tagged];
          if (random() < 0.1) {
            nacked++;
            acks.nack(m, true);
          } else {
            userAcked.add(m.fields.deliveryTag);
            acks.ack(m);
          }
        }
        for (const flush of turns.splice(0)) flush();
      }
      for (const m of pending) {
        userAcked.add(m.fields.deliveryTag);
        acks.ack(m);
      }
      acks.flush();
      expect(violations).toEqual([]);
      expect(tag).toBeGreaterThan(4000); // past the compaction threshold, while the head was held and after
      expect(outstanding.size).toBe(0);
      expect(settled.size).toBe(tag);
      expect([...settled.values()].filter((h) => h === 'nack')).toHaveLength(nacked);
    });

    it('keeps a delivery whose tag is not past the ones before (not how a channel numbers them) and acks it once', () => {
      const userAcked = new Set([5, 3]);
      const { channel, outstanding, settled, violations } = modelChannel(userAcked);
      const acks = new AckBatcher(channel, () => {});
      const [m5, m3] = [message(5), message(3)];
      for (const m of [m5, m3]) {
        outstanding.add(m.fields.deliveryTag);
        acks.delivered(m);
      }
      acks.ack(m3);
      acks.flush();
      acks.ack(m5);
      acks.flush();
      expect(violations).toEqual([]);
      expect([...settled.keys()].sort()).toEqual([3, 5]);
    });
  });
});
