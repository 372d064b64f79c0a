// Registers the command definitions as Discord slash commands: in one guild when DISCORD_GUILD_ID
// is set (instant, for development), globally otherwise. Run once per change of the commands.
import { pathToFileURL } from 'node:url';
import { REST, Routes } from 'discord.js';
import type { CommandDefinition } from '../commands/contract.js';
import { loadCommands } from '../commands/registry.js';
import { toDiscordCommand } from './discord-commands.js';

export interface DeployOptions {
  readonly token: string;
  readonly appId: string;
  /** A guild's commands update at once; global ones can take a while to reach every client. */
  readonly guildId?: string | undefined;
  /** Tests point this at a fake; default Discord's. */
  readonly restApi?: string | undefined;
  readonly definitions?: readonly CommandDefinition[] | undefined;
}

/**
 * Replaces the application's commands with the definitions (a bulk overwrite, so removed
 * commands disappear too) and returns how many were registered and where.
 *
 * @example
 * await deployDiscordCommands({ token, appId, guildId: process.env.DISCORD_GUILD_ID });
 */
export async function deployDiscordCommands(options: DeployOptions): Promise<{ count: number; scope: string }> {
  const definitions = options.definitions ?? [...loadCommands().values()].map((c) => c.definition);
  const rest = new REST(options.restApi ? { api: options.restApi } : {}).setToken(options.token);
  const route = options.guildId
    ? Routes.applicationGuildCommands(options.appId, options.guildId)
    : Routes.applicationCommands(options.appId);
  const body = definitions.map(toDiscordCommand);
  const registered = (await rest.put(route, { body })) as unknown[];
  return { count: registered.length, scope: options.guildId ? `guild ${options.guildId}` : 'global' };
}

async function main(): Promise<void> {
  const token = process.env.DISCORD_TOKEN;
  const appId = process.env.DISCORD_APP_ID;
  if (!token || !appId) {
    console.error(
      'deploy-discord: set DISCORD_TOKEN and DISCORD_APP_ID (and DISCORD_GUILD_ID for one development server); see docs/chat-platforms.md',
    );
    process.exit(2);
  }
  const { count, scope } = await deployDiscordCommands({
    token,
    appId,
    guildId: process.env.DISCORD_GUILD_ID || undefined,
  });
  console.log(`deploy-discord: registered ${count} commands (${scope})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    // The message only: a REST error's request would name the route, never the token, but keep it short.
    console.error(`deploy-discord: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
