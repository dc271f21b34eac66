#!/usr/bin/env node
// The `ijepa` command. The project runs its TypeScript through tsx's loader (no build step to
// forget or go stale); this registers it and hands over to the CLI.
import { register } from 'tsx/esm/api';
register();
await import('../model/cli/main.ts');
