import cliProgress from 'cli-progress';
import type { ProgressCallback } from '@vitzoo/pipeline';
import type { CliIo } from './io.js';

const STAGE_TITLES: Record<string, string> = { embed: 'embedding images', soup: 'averaging tensors', evaluate: 'scoring on held-out images' };

/**
 * A progress bar on stderr (cli-progress) for the counted stages of long jobs (`embed`, `soup`,
 * `evaluate`): one bar per stage. Quiet (no callback) when stdout is not a terminal or the output is JSON.
 */
export function createStageProgress(io: CliIo, options: { json?: boolean } = {}): { progress: ProgressCallback | undefined; stop(): void } {
  if (!io.isTty || options.json) return { progress: undefined, stop: () => undefined };
  const bars = new cliProgress.MultiBar(
    { stream: process.stderr, format: ' {title} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: false, stopOnComplete: false, fps: 10 },
    cliProgress.Presets.shades_classic,
  );
  const byStage = new Map<string, cliProgress.SingleBar>();
  return {
    progress: (event) => {
      if (event.loaded === undefined || event.total === undefined) return;
      const bar = byStage.get(event.stage);
      if (bar) {
        bar.setTotal(event.total);
        bar.update(event.loaded);
      } else {
        byStage.set(event.stage, bars.create(event.total, event.loaded, { title: STAGE_TITLES[event.stage] ?? event.stage }));
      }
    },
    stop: () => bars.stop(),
  };
}
