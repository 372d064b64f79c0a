// The command definitions as Discord application commands (what the deploy script registers), and
// a Discord interaction's options back as a CommandRequest's option values.
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  PermissionFlagsBits,
  type APIApplicationCommandOption,
  type CommandInteractionOption,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Attachment, CommandDefinition, OptionDef, OptionValue } from '../commands/contract.js';
import { fetchLimited } from './fetch-limited.js';

const OPTION_TYPES = {
  string: ApplicationCommandOptionType.String,
  integer: ApplicationCommandOptionType.Integer,
  number: ApplicationCommandOptionType.Number,
  boolean: ApplicationCommandOptionType.Boolean,
  attachment: ApplicationCommandOptionType.Attachment,
} as const;

function toDiscordOption(o: OptionDef): APIApplicationCommandOption {
  const base = { name: o.name, description: o.description.slice(0, 100), required: o.required === true };
  switch (o.type) {
    case 'string':
      return {
        ...base,
        type: OPTION_TYPES.string,
        ...(o.choices ? { choices: o.choices.map((c) => ({ name: c.name, value: String(c.value) })) } : {}),
        ...(o.maxLength !== undefined ? { max_length: o.maxLength } : {}),
      };
    case 'integer':
    case 'number': {
      const numeric = {
        ...base,
        ...(o.choices ? { choices: o.choices.map((c) => ({ name: c.name, value: Number(c.value) })) } : {}),
        ...(o.min !== undefined ? { min_value: o.min } : {}),
        ...(o.max !== undefined ? { max_value: o.max } : {}),
      };
      return o.type === 'integer'
        ? { ...numeric, type: OPTION_TYPES.integer }
        : { ...numeric, type: OPTION_TYPES.number };
    }
    case 'boolean':
      return { ...base, type: OPTION_TYPES.boolean };
    case 'attachment':
      return { ...base, type: OPTION_TYPES.attachment };
  }
}

/**
 * One definition as a chat-input command. Admin-only commands are hidden from members without
 * Administrator (`default_member_permissions`); the service checks ADMINS again on every call.
 */
export function toDiscordCommand(def: CommandDefinition): RESTPostAPIChatInputApplicationCommandsJSONBody {
  return {
    type: ApplicationCommandType.ChatInput,
    name: def.name,
    description: def.description.slice(0, 100),
    options: def.options.map(toDiscordOption),
    ...(def.adminOnly ? { default_member_permissions: PermissionFlagsBits.Administrator.toString() } : {}),
  };
}

/** A Discord attachment as the service's lazy upload; the download is capped near its reported size. */
export function toAttachment(a: NonNullable<CommandInteractionOption['attachment']>): Attachment {
  return {
    name: a.name,
    contentType: a.contentType ?? undefined,
    size: a.size,
    width: a.width ?? undefined,
    height: a.height ?? undefined,
    fetch: () => fetchLimited(a.url, { maxBytes: a.size + 1024 }),
  };
}

/** The typed option values of a slash-command interaction (Discord has already checked types and ranges). */
export function optionsFromInteraction(data: readonly CommandInteractionOption[]): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const o of data) {
    if (o.type === ApplicationCommandOptionType.Attachment && o.attachment) out[o.name] = toAttachment(o.attachment);
    else if (o.value !== undefined && o.value !== null) out[o.name] = o.value;
  }
  return out;
}
