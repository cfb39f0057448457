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
});
