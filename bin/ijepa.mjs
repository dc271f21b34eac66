#!/usr/bin/env node
// The `ijepa` command. From an installed package it runs the built JavaScript in dist/ with
// plain node. In a source checkout (where model/cli/main.ts sits beside this file) it runs the
// TypeScript through tsx's loader instead, so there is no dist/ to go stale between an edit and a run.
import { existsSync } from 'node:fs';

const source = new URL('../model/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/model/cli/main.js', import.meta.url).href);
}
