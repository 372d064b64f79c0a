// The Part A techniques by name, in the order front ends list them. Adding one is a file beside this
// one (its options and normalize), a line here, its engine run function and its case in technique-jobs.
import type { TechniqueName } from '../jobs/technique-jobs.js';
import { anagram } from './anagram.js';
import { denoise } from './denoise.js';
import { edit } from './edit.js';
import { hybrid } from './hybrid.js';
import { imagine } from './imagine.js';
import { inpaint } from './inpaint.js';
import type { Technique } from './technique.js';

export const TECHNIQUES: readonly Technique[] = [
  imagine,
  denoise,
  edit,
  inpaint,
  anagram,
  hybrid,
] as readonly Technique[];

export function technique(name: TechniqueName): Technique {
  return TECHNIQUES.find((t) => t.name === name)!;
}
