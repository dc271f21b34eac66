// runtime: process-wide engine state: the default backend, gradient mode, and memory scopes.
//
// Memory contract: every tensor is owned by the innermost open scope when it is created.
// `tidy(fn)` closes its scope when fn returns (or its promise settles) and disposes every tensor
// it owns except those in fn's result, which move to the enclosing scope. `keep(t)` takes a
// tensor out of all scopes (parameters, optimizer state). Unscoped tensors live until
// `dispose()`. Unlike tfjs's tidy, fn may be async; scopes are tracked by identity, so one
// async step at a time per engine is the supported pattern (the training loop), not
// concurrent interleaved async scopes.
import type { Backend } from './backend/backend.ts';
import type { Tensor } from './tensor.ts';

let defaultBackend: Backend | null = null;

/** Make `b` the backend new tensors are created on. */
export function setBackend(b: Backend): void {
  defaultBackend = b;
}

/** The backend new tensors are created on; throws, saying how to create one, before `initWebGPU`/`setBackend`. */
export function getBackend(): Backend {
  if (!defaultBackend) throw new Error('engine: no backend; call `await initWebGPU()` (engine/node) or `setBackend(new CpuBackend())` first');
  return defaultBackend;
}

// ---- gradient mode ----------------------------------------------------------------------------

let noGradDepth = 0;
export const gradEnabled = () => noGradDepth === 0;

/** Run fn without recording the tape (sync or async). */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    noGradDepth--;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      noGradDepth--;
    }) as T;
  }
  noGradDepth--;
  return result;
}

// ---- scopes -----------------------------------------------------------------------------------

class Scope {
  readonly tensors = new Set<Tensor>();
}
const scopes: Scope[] = [];

export function track(t: Tensor): void {
  scopes[scopes.length - 1]?.tensors.add(t);
}

export function untrack(t: Tensor): void {
  for (const s of scopes) s.tensors.delete(t);
}

/** Take tensors out of every scope: they live until disposed by hand. */
export function keep<T extends Tensor | Tensor[]>(t: T): T {
  for (const x of Array.isArray(t) ? t : [t]) untrack(x);
  return t;
}

function collect(v: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if ((v as { isTensor?: boolean; }).isTensor === true) {
    out.add(v as Tensor);
    return;
  }
  if (v instanceof Map) {
    for (const x of v.values()) collect(x, out, seen);
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) collect(x, out, seen);
    return;
  }
  if (Object.getPrototypeOf(v) === Object.prototype) { for (const x of Object.values(v)) collect(x, out, seen); }
}

function close(scope: Scope, result: unknown): void {
  const i = scopes.lastIndexOf(scope);
  if (i >= 0) scopes.splice(i, 1);
  const kept = new Set<Tensor>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope.tensors) {
    if (kept.has(t)) parent?.tensors.add(t);
    else t.dispose();
  }
}

/**
 * Run fn in a memory scope: every tensor created inside and not returned is disposed when fn
 * finishes. Tensors returned (directly, or inside arrays, Maps and plain objects) survive.
 * Works with async fn; see the memory contract at the top of this file.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v: unknown) => {
        close(scope, v);
        return v;
      },
      (e: unknown) => {
        close(scope, undefined);
        throw e;
      },
    ) as T;
  }
  close(scope, result);
  return result;
}

// ---- leak warnings ----------------------------------------------------------------------------

let liveTensors = 0;
/** Tensors (views included) created and not yet disposed, on every backend. */
export const tensorCount = () => liveTensors;
export function tensorCreated(): void {
  liveTensors++;
}
export function tensorDisposed(): void {
  liveTensors--;
}

/** Warns (once per site) about tensors garbage-collected without dispose(): memory leaked. */
export const leakWarnings = new FinalizationRegistry<string>((label) => {
  if (warned.has(label)) return;
  warned.add(label);
  console.warn(`engine: a tensor from ${label} was garbage-collected without dispose(); wrap the step in tidy()`);
});
const warned = new Set<string>();
