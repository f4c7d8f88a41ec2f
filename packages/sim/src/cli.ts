#!/usr/bin/env node
/** The `breaker-sim` program: runs the command its arguments name (see `cli/main.ts`) and exits with its code. */
import { main } from './cli/main.js'

process.exit(await main(process.argv.slice(2)))
