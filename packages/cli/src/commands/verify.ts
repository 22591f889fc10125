import { Option, type Command } from 'commander';
import type { CommandContext } from '../context.js';
import { resolve } from 'node:path';
import { findCases, verifyCase, type CaseReport } from '@vitzoo/conformance';
import { DTYPES, InvalidArgumentError, type Dtype } from '@vitzoo/core';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { EXIT, JSON_FORMAT_VERSION } from '../exit.js';
import type { CliIo } from '../io.js';
import { resolveWeightsArgument } from '../model-dir.js';

function formatDiff(value: number): string {
  return Number.isFinite(value) ? value.toExponential(2) : String(value);
}

function printCase(io: CliIo, report: CaseReport): void {
  const label = { pass: 'PASS', fail: 'FAIL', error: 'ERROR', 'not-implemented': 'NOT IMPLEMENTED', crashed: `CRASHED (${report.signal})` }[report.status];
  io.stdout(`${label}  ${report.case} (${report.architecture ?? '?'}${report.dtype === 'fp32' ? '' : `, ${report.dtype}`})\n`);
  const width = Math.max(10, ...report.comparisons.map((c) => c.output.length));
  for (const c of report.comparisons) {
    const which = c.sample === undefined ? `batch ${c.batch}` : `sample ${c.sample}`;
    const topOne = c.topOne ? `  top-1 ${c.topOne.equal}/${c.topOne.total}${c.topOne.required && c.topOne.equal < c.topOne.total ? ' (must all agree)' : ''}` : '';
    io.stdout(`  ${c.output.padEnd(width)} ${which.padEnd(8)}  max |diff| ${formatDiff(c.maxAbsDiff)}  ${c.maxAbsDiff <= c.tolerance ? 'ok' : `> ${c.tolerance}`}${topOne}\n`);
  }
  if (report.error) io.stdout(`  ${String(report.error.message)}\n`);
}

export function registerVerify(program: Command, context: CommandContext): void {
  program
    .command('verify')
    .description('build fixture model cases and compare their outputs with the stored reference outputs')
    .argument('<case-dirs...>', 'case folders (config.json, model.safetensors, context.io.safetensors) or folders of cases')
    .option('--json', 'print one JSON document (format documented in the README)')
    .option('--weights <file>', 'weights file to use instead of model.safetensors (one case only); relative to the working directory, else to the case folder')
    .addOption(new Option('--dtype <name>', 'precision of the built graph; below fp32 the logits are checked against the bounds in the README').choices(DTYPES).default('fp32'))
    .action(async (dirs: string[], options: { json?: boolean; weights?: string; dtype: Dtype }) => {
      const registry = await context.registry();
      const cases: string[] = [];
      for (const dir of dirs) cases.push(...(await findCases(resolve(context.io.cwd, dir))));
      if (cases.length === 0) throw new InvalidArgumentError('case-dirs', `No case folders (with config.json) found in ${dirs.join(', ')}.`);
      if (options.weights && cases.length > 1) throw new InvalidArgumentError('weights', '--weights applies to a single case; name one case folder.');
      const reports: CaseReport[] = [];
      // Every case runs in a child process: a native crash in ONNX Runtime is that case's result
      // ('crashed (SIGSEGV)'), and the other cases still run and report.
      const backend = createIsolatedNodeBackend();
      try {
        for (const dir of cases) {
          const weights = options.weights === undefined ? undefined : resolveWeightsArgument(options.weights, context.io.cwd, dir);
          const report = await verifyCase(dir, { registry, backend, weights, dtype: options.dtype });
          reports.push(report);
          if (!options.json) printCase(context.io, report);
        }
      } finally {
        await backend.close();
      }
      const summary = { pass: 0, fail: 0, error: 0, crashed: 0, 'not-implemented': 0 };
      for (const report of reports) summary[report.status]++;
      const passed = reports.every((r) => r.status === 'pass');
      if (options.json) {
        // JSON has no NaN or Infinity: such differences are written as the strings "NaN", "Infinity".
        const finite = (_key: string, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value);
        context.io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, passed, summary, cases: reports }, finite)}\n`);
      } else {
        context.io.stdout(`\n${summary.pass} passed, ${summary.fail + summary.error + summary.crashed + summary['not-implemented']} failed` +
          (summary.crashed ? ` (${summary.crashed} crashed)` : '') +
          (summary['not-implemented'] ? ` (${summary['not-implemented']} not implemented)` : '') + '\n');
      }
      context.exit.code = passed ? EXIT.ok : EXIT.failure;
    });

}
