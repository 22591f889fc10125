import type { Command } from 'commander';
import { catalogueEntries, describeCatalogueSource, type CatalogueEntry } from '@vitzoo/hub';
import type { CommandContext } from '../context.js';

function formatParameters(count: number): string {
  return count >= 1e6 ? `${(count / 1e6).toFixed(1)}M` : `${(count / 1e3).toFixed(1)}K`;
}

/** A plain-text table: name, parameters, input size, source. */
function catalogueTable(entries: readonly CatalogueEntry[]): string {
  const rows = [
    ['NAME', 'PARAMS', 'INPUT', 'SOURCE'],
    ...entries.map((entry) => [entry.name, formatParameters(entry.parameters), `${entry.inputSize[1]}x${entry.inputSize[2]}`, describeCatalogueSource(entry.source)]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}

export function registerList(program: Command, context: CommandContext): void {
  program
    .command('list')
    .description('list the zoo: pretrained models with parameters, input size and source (timm-style names; wildcards allowed)')
    .argument('[pattern]', 'wildcard pattern over variant or variant.tag names, e.g. "vit_*"', '*')
    .option('--names', 'print names only (variant names; variant.tag with --pretrained)')
    .option('--pretrained', 'with --names: list variant.tag names of pretrained weights')
    .option('--json', "print a JSON array of the table's names (with --details: the catalogue entries)")
    .option('--details', 'with --json: full catalogue entries (source, input size, preprocessing, label set, parameters, file size)')
    .action(async (pattern: string, options: { names?: boolean; pretrained?: boolean; json?: boolean; details?: boolean }) => {
      const registry = await context.registry();
      if (options.json && options.details) {
        context.io.stdout(`${JSON.stringify(catalogueEntries(registry, pattern))}\n`);
        return;
      }
      if (options.names) {
        const names = registry.list(pattern, { pretrained: options.pretrained });
        context.io.stdout(names.length > 0 ? `${names.join('\n')}\n` : `no model matches '${pattern}'\n`);
        return;
      }
      const entries = catalogueEntries(registry, pattern);
      if (options.json) {
        // The NAME column of the table: pretrained variant.tag names, else the bare variant names it falls back to.
        context.io.stdout(`${JSON.stringify(entries.length > 0 ? entries.map((entry) => entry.name) : registry.list(pattern))}\n`);
        return;
      }
      if (entries.length === 0) {
        const names = registry.list(pattern);
        context.io.stdout(names.length > 0 ? `${names.join('\n')}\n(no pretrained weights registered for these)\n` : `no model matches '${pattern}'\n`);
        return;
      }
      context.io.stdout(`${catalogueTable(entries)}\n`);
    });
}
