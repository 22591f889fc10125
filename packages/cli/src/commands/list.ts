import type { Command } from 'commander';
import type { CommandContext } from '../context.js';

export function registerList(program: Command, context: CommandContext): void {
  program
    .command('list')
    .description('list registered models (timm-style names; wildcards allowed)')
    .argument('[pattern]', 'wildcard pattern, e.g. "vit_*"', '*')
    .option('--pretrained', 'list variant.tag names of pretrained weights')
    .option('--json', 'print a JSON array')
    .action(async (pattern: string, options: { pretrained?: boolean; json?: boolean }) => {
      const registry = await context.registry();
      const names = registry.list(pattern, { pretrained: options.pretrained });
      if (options.json) context.io.stdout(`${JSON.stringify(names)}\n`);
      else context.io.stdout(names.length > 0 ? `${names.join('\n')}\n` : `no model matches '${pattern}'\n`);
    });

}
