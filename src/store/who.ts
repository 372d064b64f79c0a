// Identifies a person across chat platforms: the same user id on Discord and Slack are two people.
// The text form `platform:userId` is what configuration (admin lists) and audit columns hold.

export interface Who {
  readonly platform: string; // 'discord' | 'slack' | 'web' | 'cli'
  readonly userId: string;
}

export function formatWho(who: Who): string {
  return `${who.platform}:${who.userId}`;
}

export function parseWho(text: string): Who {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1) {
    throw new RangeError(`expected "platform:userId" (for example "discord:1234"), got "${text}"`);
  }
  return { platform: text.slice(0, colon), userId: text.slice(colon + 1) };
}

export function isSameWho(a: Who, b: Who): boolean {
  return a.platform === b.platform && a.userId === b.userId;
}
