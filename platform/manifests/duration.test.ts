import { describe, expect, it } from 'vitest';
import { DurationError, parseGoDuration, parseIsoDuration } from './duration.ts';

const ms = (text: string) => parseIsoDuration(text).ms;

describe('duration', () => {
  describe('parseIsoDuration', () => {
    it('parses the durations Knative manifests use', () => {
      expect(ms('PT0.2S')).toBe(200);
      expect(ms('PT30S')).toBe(30_000);
      expect(ms('PT1M30S')).toBe(90_000);
      expect(ms('P1DT1H')).toBe(25 * 3600_000);
      expect(ms('PT0,5S')).toBe(500);
    });

    it('refuses what is not an ISO 8601 duration', () => {
      for (const bad of [
        '30s',
        'P',
        'PT',
        '-PT1S',
        'PT1.S',
        '',
        'pt1s',
        'PT1H30',
        'PT1S1M',
        'P1H',
        'PT1D',
        'PT1.5.5S',
      ]) {
        expect(() => parseIsoDuration(bad), bad).toThrow(/ISO 8601/);
      }
    });

    // The two parsers this one replaces disagreed (eventing/src/iso-duration.ts vs platform/k3s/validate's
    // isoDurationMs); upstream (rickb777/date period v1.13.0, as knative.dev/eventing vendors it) decides.
    it.each([
      ['P1W', 7 * 86_400_000], // k3s refused weeks
      ['P1Y', 365.2425 * 86_400_000], // k3s refused years and months
      ['P1M', 30.436875 * 86_400_000],
      ['P1MT1M', 30.436875 * 86_400_000 + 60_000],
      ['PT0,5S', 500], // k3s refused the decimal comma
      ['+PT1S', 1000], // both refused a leading +, upstream takes it
      ['P0', 0], // both refused upstream's canonical zero
      ['PT1.5H30M', 7_200_000], // a fraction on any field, as upstream
    ])('reads %s as upstream does (%d ms)', (text, expected) => {
      expect(ms(text)).toBe(expected);
    });

    it('refuses surrounding spaces, which eventing trimmed and upstream refuses', () => {
      expect(() => parseIsoDuration(' PT1S')).toThrow(DurationError);
      expect(() => parseIsoDuration('PT1S ')).toThrow(DurationError);
    });

    it('says what a cluster computes: one decimal place per field, the rest dropped', () => {
      expect(parseIsoDuration('PT0.05S')).toEqual({ ms: 50, clusterMs: 0 });
      expect(parseIsoDuration('PT0.25S')).toEqual({ ms: 250, clusterMs: 200 });
      expect(parseIsoDuration('PT1.5S')).toEqual({ ms: 1500, clusterMs: 1500 });
      expect(parseIsoDuration('PT0.50S')).toEqual({ ms: 500, clusterMs: 500 });
    });

    it('keeps large time fields exact by rippling them up, and refuses what an int16 of tenths cannot hold', () => {
      expect(ms('PT40000S')).toBe(40_000_000);
      expect(() => parseIsoDuration('P4000D')).toThrow(/too large/);
    });
  });

  describe('parseGoDuration', () => {
    it.each([
      ['30s', 30_000],
      ['1m', 60_000],
      ['250ms', 250],
      ['1.5h', 5_400_000],
      ['0s', 0],
      ['0', 0],
      ['1m30s', 90_000], // time.ParseDuration mixes units (the old local reader refused it)
      ['.5s', 500],
      ['1500us', 1.5],
    ])('reads %s as %d ms', (text, expected) => {
      expect(parseGoDuration(text)).toBe(expected);
    });

    it.each(['30', 'thirty seconds', '-1s', '', '1d', 's', '.s'])('rejects %j', (text) => {
      expect(() => parseGoDuration(text)).toThrow(DurationError);
    });
  });
});
