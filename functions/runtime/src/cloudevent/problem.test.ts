import { describe, expect, it } from 'vitest';
import {
  EventInProgressError,
  InvalidEventError,
  InvalidReplyError,
  PermanentError,
  StoreUnavailableError,
  TransientError,
} from '../errors.ts';
import { Limits } from '../limits.ts';
import { problemBody, toProblem } from './problem.ts';

// Knative's dispatcher retries on these statuses (and on no response); it dead-letters every other.
const RETRIED = (status: number): boolean => [404, 408, 409, 429].includes(status) || status >= 500;

describe('toProblem', () => {
  it.each([
    [
      'an invalid event',
      new InvalidEventError('bad', [{ name: 'id', reason: 'missing' }]),
      400,
      'invalid',
      false,
    ],
    ['a body over the limit', new InvalidEventError('big', [], 413), 413, 'invalid', false],
    ['an unsupported media type', new InvalidEventError('batch', [], 415), 415, 'invalid', false],
    [
      'a permanent business failure',
      new PermanentError('insufficient-funds', 'no money'),
      422,
      'rejected',
      false,
    ],
    ['a transient failure', new TransientError('db down', { retryAfterSeconds: 7 }), 503, 'transient', true],
    ['an event in progress elsewhere', new EventInProgressError('busy'), 503, 'transient', true],
    ['an unreachable store', new StoreUnavailableError('gone'), 503, 'transient', true],
    ['an invalid reply (function bug)', new InvalidReplyError('oops'), 500, 'error', true],
    ['an unexpected error', new TypeError('x is undefined'), 500, 'error', true],
    ['a thrown non-error', 'a string', 500, 'error', true],
  ])('maps %s to %i (%s, retried: %s)', (_what, err, status, outcome, retried) => {
    const answer = toProblem(err);
    expect(answer.status).toBe(status);
    expect(answer.problem.status).toBe(status);
    expect(answer.outcome).toBe(outcome);
    expect(RETRIED(answer.status)).toBe(retried);
  });

  it('names the failing attributes in invalid-params', () => {
    const answer = toProblem(new InvalidEventError('bad', [{ name: 'time', reason: 'not RFC 3339' }]));
    expect(answer.problem['invalid-params']).toEqual([{ name: 'time', reason: 'not RFC 3339' }]);
    expect(answer.problem.type).toBe('https://sluice.dev/problems/invalid-event');
    expect(answer.problem.detail).toBe('bad');
  });

  it('uses the permanent reason as the problem type', () => {
    const answer = toProblem(new PermanentError('insufficient-funds', 'cannot cover 10 EUR'));
    expect(answer.problem.type).toBe('https://sluice.dev/problems/insufficient-funds');
    expect(answer.reason).toBe('insufficient-funds');
    expect(answer.problem.detail).toBe('cannot cover 10 EUR');
  });

  it('sends Retry-After with transient failures', () => {
    expect(toProblem(new TransientError('later', { retryAfterSeconds: 7 })).headers).toEqual({
      'retry-after': '7',
    });
    expect(toProblem(new TransientError('later')).headers['retry-after']).toBe('1');
  });

  it('never puts the message of an unexpected error in the body', () => {
    const answer = toProblem(new Error('password=hunter2 at db.internal:27017'));
    expect(problemBody(answer.problem).toString()).not.toContain('hunter2');
    expect(answer.reason).toBe('Error');
  });

  it('adds the instance when given', () => {
    expect(toProblem(new PermanentError('r', 'm'), '/events/1').problem.instance).toBe('/events/1');
  });

  describe('problemBody', () => {
    it('never exceeds Limits.responseBytes, even when escaping makes every capped field six times longer', () => {
      const params = Array.from({ length: 21 }, () => ({
        name: '\u0001'.repeat(128),
        reason: '\u0002'.repeat(256),
      }));
      const answer = toProblem(new InvalidEventError('\u0003'.repeat(1024), params));
      const body = problemBody(answer.problem);
      expect(body.length).toBeLessThanOrEqual(Limits.responseBytes);
      const parsed = JSON.parse(body.toString());
      expect(parsed.status).toBe(400);
      expect(parsed['invalid-params'].at(-1)).toMatchObject({
        name: '…',
        reason: expect.stringMatching(/not shown/),
      });
    });
  });
});
