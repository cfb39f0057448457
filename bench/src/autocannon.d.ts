// autocannon ships no types; the part of its programmatic API the benchmark uses.
declare module 'autocannon' {
  interface AutocannonOptions {
    url: string;
    connections: number;
    duration: number;
    method: 'POST';
    headers: Record<string, string>;
    body: string;
    idReplacement: boolean;
  }
  interface Histogram {
    p50: number;
    p99: number;
  }
  interface AutocannonResult {
    requests: { total: number };
    duration: number;
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
  }
  function autocannon(options: AutocannonOptions): Promise<AutocannonResult>;
  export default autocannon;
}
