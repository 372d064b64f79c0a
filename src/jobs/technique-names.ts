// The Part A techniques' job commands by name, apart from their engines: the engine worker registers
// a handler for each without loading DeepFloyd's pipeline until a technique job comes.
export const TECHNIQUE_NAMES = ['imagine', 'denoise', 'edit', 'inpaint', 'anagram', 'hybrid'] as const;
export type TechniqueName = (typeof TECHNIQUE_NAMES)[number];

export function isTechniqueName(command: string): command is TechniqueName {
  return (TECHNIQUE_NAMES as readonly string[]).includes(command);
}
