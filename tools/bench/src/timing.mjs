import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Median of `runs` timed calls after `warmup` untimed ones; several functions are interleaved so drift hits all alike. */
export async function interleavedMedians(functions, { warmup = 5, runs = 25 } = {}) {
  const times = functions.map(() => []);
  for (let i = 0; i < warmup; i++) for (const fn of functions) await fn();
  for (let i = 0; i < runs; i++) {
    for (let j = 0; j < functions.length; j++) {
      const start = performance.now();
      await functions[j]();
      times[j].push(performance.now() - start);
    }
  }
  return times.map(median);
}

/** The median of a few numbers (the middle one; the upper middle for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/**
 * This process's peak resident memory in bytes. On Linux, VmHWM of /proc/self/status: it starts
 * afresh at exec, whereas getrusage's maxRSS (process.resourceUsage().maxRSS) keeps the high-water
 * mark of the parent that forked the process (a child spawned by a parent holding 500 MB reports at
 * least 500 MB). Elsewhere, maxRSS.
 */
export function peakRssBytes() {
  try {
    const kilobytes = Number(/VmHWM:\s*(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
    if (kilobytes > 0) return kilobytes * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** Runs a benchmark child script (`new URL('./x-child.mjs', import.meta.url)`) with `args` and parses the JSON it prints. */
export function runChild(script, args) {
  return JSON.parse(execFileSync(process.execPath, [script.pathname, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 }));
}

/** The median of one field over child results (`{ seconds, maxRssBytes }` objects). */
export function medianOf(results, key) {
  return median(results.map((result) => result[key]));
}
