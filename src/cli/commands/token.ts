/**
 * `ledge token create/list/revoke`: API tokens of the control server. A token is shown once,
 * when created; the metadata store keeps only its sha256.
 */
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { table } from '../table.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;

export function registerTokenCommands(program: Command, context: () => CommandContext): void {
  const token = program.command('token').description('API tokens for ledge server (create, list, revoke)');

  token
    .command('create')
    .description('create an API token; it is printed once and stored only as a hash')
    .requiredOption('--name <name>', 'what the token is for (shown in lists and the server log)')
    .option('--read-only', 'the token may read but not queue or cancel runs')
    .option('--json', 'print {name, token, readOnly} as JSON')
    .action(async (flags: { name: string; readOnly?: boolean; json?: boolean }) => {
      const ctx = context();
      if (!NAME.test(flags.name))
        throw new LedgeError(
          'usage',
          `--name must be letters, digits, '_', '.', '@' or '-', not '${flags.name}'`,
        );
      const [{ newToken, hashToken, tokenPrefix }, { ApiTokenRecords }] = await Promise.all([
        import('../../control/auth/api-token.js'),
        import('../../metadata/api-tokens.js'),
      ]);
      const metadata = await ctx.openMetadata();
      try {
        const value = newToken();
        const created = await new ApiTokenRecords(metadata).add({
          name: flags.name,
          hash: hashToken(value),
          prefix: tokenPrefix(value),
          readOnly: flags.readOnly === true,
        });
        if (flags.json) ctx.json({ name: created.name, token: value, readOnly: created.readOnly });
        else {
          ctx.say(`Token '${created.name}' created (${created.readOnly ? 'read-only' : 'read and write'}).`);
          ctx.say('Keep it now: it is not shown again.');
          process.stdout.write(`${value}\n`);
        }
      } finally {
        await metadata.close();
      }
    });

  token
    .command('list')
    .description('list API tokens (names and prefixes, never the tokens)')
    .option('--json', 'print the tokens as JSON')
    .action(async (flags: { json?: boolean }) => {
      const ctx = context();
      const { ApiTokenRecords } = await import('../../metadata/api-tokens.js');
      const metadata = await ctx.openMetadata();
      try {
        const tokens = await new ApiTokenRecords(metadata).list();
        if (flags.json) return ctx.json(tokens);
        if (tokens.length === 0)
          return ctx.say('No tokens. Create one with `ledge token create --name NAME`.');
        const rows = tokens.map((t) => [
          t.name,
          `${t.prefix}…`,
          t.readOnly ? 'read' : 'read, write',
          t.createdAt,
          t.lastUsedAt ?? '-',
          t.revokedAt ?? '-',
        ]);
        for (const line of table([['name', 'prefix', 'access', 'created', 'last used', 'revoked'], ...rows]))
          ctx.say(line);
      } finally {
        await metadata.close();
      }
    });

  token
    .command('revoke')
    .description('revoke an API token: it stops working at once')
    .argument('<name>', 'the token name (or id)')
    .option('--json', 'print the revoked token as JSON')
    .action(async (name: string, flags: { json?: boolean }) => {
      const ctx = context();
      const { ApiTokenRecords } = await import('../../metadata/api-tokens.js');
      const metadata = await ctx.openMetadata();
      try {
        const revoked = await new ApiTokenRecords(metadata).revoke(name);
        if (flags.json) ctx.json(revoked);
        else ctx.say(`Token '${revoked.name}' revoked.`);
      } finally {
        await metadata.close();
      }
    });
}
