// `npm run bench`: every benchmark of the project, printing figures and ratios against targets.
// Benchmarks measure; tests assert behaviour. Run on an otherwise idle machine.
import { benchPartB } from './part-b.js';

const only = process.argv[2];
if (!only || only === 'part-b') await benchPartB();
