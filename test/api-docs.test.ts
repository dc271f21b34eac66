// api-docs: every symbol exported by the three public entry points (engine, kernels, model)
// carries a doc comment, read with the TypeScript compiler API, so `npm run docs` never
// publishes an undocumented name (typedoc.json documents the same three files). A doc on the re-export line in index.ts counts too.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY_POINTS = ['engine/index.ts', 'kernels/index.ts', 'model/index.ts'];

/** Exported names of `file` that have no doc comment, neither where declared nor on the export. */
function undocumented(program: ts.Program, file: string): string[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(join(root, file));
  if (!source) throw new Error(`api-docs: ${file} is not in the program`);
  const mod = checker.getSymbolAtLocation(source);
  if (!mod) throw new Error(`api-docs: ${file} is not a module`);
  const missing: string[] = [];
  for (const alias of checker.getExportsOfModule(mod)) {
    const target = alias.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(alias) : alias;
    const doc = (s: ts.Symbol) => ts.displayPartsToString(s.getDocumentationComment(checker)).trim();
    if (!doc(alias) && !doc(target)) missing.push(alias.getName());
  }
  return missing;
}

const t = suite('api-docs');

t('every symbol exported by engine/, kernels/ and model/ index.ts has a doc comment', () => {
  // the project's own compiler options (typedoc reads the same), over the entry points only
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  } });
  if (!config) throw new Error('api-docs: cannot read tsconfig.json');
  const program = ts.createProgram(ENTRY_POINTS.map((f) => join(root, f)), { ...config.options, noEmit: true });
  const report = ENTRY_POINTS.map((f) => [f, undocumented(program, f)] as const).filter(([, m]) => m.length);
  assert.ok(report.length === 0, `exports without a doc comment:\n${report.map(([f, m]) => `  ${f}: ${m.join(', ')}`).join('\n')}`);
});

t.run();
