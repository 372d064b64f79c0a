#!/usr/bin/env node
// The `illusionist` executable: runs the CLI and exits with its status (0 ok, 1 failure, 2 usage).
// The engine worker of a job command starts first, before the CLI's own modules load (main() would
// start it too, a little later).
import { prepareEngine } from './prepared-engine.js';

prepareEngine(process.argv[2]);
const { main } = await import('./main.js');
main(process.argv.slice(2)).then((code) => process.exit(code));
