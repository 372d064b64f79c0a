#!/usr/bin/env node
// The `illusionist` executable: runs the CLI and exits with its status (0 ok, 1 failure, 2 usage).
import { main } from './main.js';

main(process.argv.slice(2)).then((code) => process.exit(code));
