// tensor: a strided view of reference-counted device storage, plus its autograd node.
// Methods are thin: each forwards to one function in ops/, where every op is declared once.
// Invariants: shape/strides/offset never change after creation; `assign` is the only in-place
// operation (it swaps storage, used by optimizers); a disposed tensor throws on use.
import type { Backend, DType, Storage } from './backend/backend.ts';
import { contiguousStrides, numel, type NestedArray, type Shape } from './shape.ts';
import { leakWarnings, tensorCreated, tensorDisposed, track, untrack } from './runtime.ts';
import type { OpDef, Saved } from './ops/op.ts';
import * as ops from './ops/table.ts';
import { ELEMENTWISE } from '../kernels/index.ts';
import { elementwise, type BinaryName, type UnaryName } from './ops/elementwise.ts';
import * as fn from './ops/composite.ts';
import { backward } from './autograd.ts';
import { fmt, ShapeError } from './errors.ts';

/** The record of how a tensor was made: what backward replays. */
export interface TapeNode {
  // The op's input and attrs types are erased here; each OpDef checks its own.
  readonly def: OpDef<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- inputs and attrs are op-specific
  readonly inputs: readonly Tensor[];
  readonly attrs: unknown;
  /** What the forward saved for backward; disposed once backward has run (ops/op.ts runBackward). */
  readonly saved: Saved;
}

let nextId = 1;

/** Row-major flat values as nested arrays of `shape`. */
function nest(flat: ArrayLike<number>, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0]!;
  const build = (dim: number, at: number): NestedArray[] => {
    const n = shape[dim]!, stride = numel(shape.slice(dim + 1));
    return Array.from({ length: n }, (_, i) => (dim === shape.length - 1 ? flat[at + i]! : build(dim + 1, at + i * stride)));
  };
  return build(0, 0);
}

/** x.exp(), x.add(b): the elementwise ops as methods (ops/elementwise.ts). */
type ElementwiseMethods =
  & { [K in UnaryName]: () => Tensor; }
  & { [K in BinaryName]: (b: Tensor | number) => Tensor; };
// the class below gets these methods at load (after it); the interface gives them their types
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface Tensor extends ElementwiseMethods {}

/** An n-d array on a backend's storage, with autograd (`requiresGrad`, `.grad`, `backward()`); create with `fromArray`, `zeros`, `randn`…, free with `dispose()` or `tidy`. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging -- the other half of the merge above
export class Tensor {
  readonly isTensor = true;
  readonly id = nextId++;
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | null = null;
  node: TapeNode | null = null;
  /** Set when backward consumed this tensor's tape node: a second backward through it throws. */
  tapeReleased = false;
  /** A name for errors and state dicts (set by nn modules). */
  name?: string;
  private _storage: Storage | null;

  constructor(
    readonly backend: Backend,
    storage: Storage,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly strides: Shape = contiguousStrides(shape),
    readonly offset = 0,
  ) {
    this._storage = storage;
    storage.refs++;
    this.size = numel(shape);
    tensorCreated();
    track(this);
    leakWarnings.register(this, `a ${dtype} tensor ${fmt(shape)}`, this);
  }

  /** A fresh, uninitialised contiguous tensor. */
  static empty(shape: Shape, dtype: DType, backend: Backend): Tensor {
    return new Tensor(backend, backend.alloc(numel(shape), dtype), [...shape], dtype);
  }

  get storage(): Storage {
    if (!this._storage) throw new Error(`tensor ${this.name ?? this.id} ${fmt(this.shape)} used after dispose()`);
    return this._storage;
  }
  get disposed(): boolean {
    return this._storage === null;
  }
  get rank(): number {
    return this.shape.length;
  }
  get isContiguous(): boolean {
    const c = contiguousStrides(this.shape);
    return this.strides.every((s, d) => s === c[d] || this.shape[d] === 1);
  }

  /** Free this tensor's hold on its storage (the storage returns to the pool with its last view). */
  dispose(): void {
    if (!this._storage) return;
    const s = this._storage;
    this._storage = null;
    this.node = null;
    if (--s.refs === 0) this.backend.release(s);
    tensorDisposed();
    untrack(this);
    leakWarnings.unregister(this);
  }

  /** Replace this tensor's contents with `src` (same shape, contiguous): optimizers use it. */
  assign(src: Tensor): this {
    if (src.dtype !== this.dtype || src.shape.length !== this.shape.length || src.shape.some((v, i) => v !== this.shape[i])) {
      throw new ShapeError('assign', 'src', [this.shape, src.shape],
        `src ${fmt(src.shape)} ${src.dtype} does not match ${fmt(this.shape)} ${this.dtype}`);
    }
    if (!this.isContiguous || this.offset !== 0) throw new Error(`assign: target ${this.name ?? this.id} must be a contiguous tensor, not a view`);
    const c = src.isContiguous && src.offset === 0 ? src : src.contiguous();
    const old = this.storage;
    this._storage = c.storage;
    c.storage.refs++;
    if (--old.refs === 0) this.backend.release(old);
    if (c !== src) c.dispose();
    return this;
  }

  /** Copy the values to the host. Never blocks work recorded afterwards. */
  async data(): Promise<Float32Array | Float64Array | Int32Array> {
    const t = this.isContiguous ? this : this.contiguous();
    const p = this.backend.read(t.storage, t.offset, this.size);
    if (t !== this) t.dispose();
    return p;
  }
  async item(): Promise<number> {
    if (this.size !== 1) throw new ShapeError('item', 'x', [this.shape], `item() needs one element, x is ${fmt(this.shape)}`);
    return (await this.data())[0]!;
  }
  /** The values as nested arrays of this tensor's shape (a number for a 0-d tensor), like torch's `tolist()`; `data()` gives them flat. */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.requiresGrad ? ', grad' : ''})`;
  }

  // ---- autograd -------------------------------------------------------------------------------
  /** Gradients of this scalar w.r.t. every tensor that requires grad, accumulated into `.grad`. */
  backward(grad?: Tensor): void {
    backward(this, grad);
  }
  /** Same storage, no tape: gradients stop here. */
  detach(): Tensor {
    return ops.detach(this);
  }
  requiresGrad_(on = true): this {
    this.requiresGrad = on;
    return this;
  }

  // ---- elementwise: one method per op of kernels/elementwise-ops.ts, added below the class ----
  square(): Tensor {
    return ops.mul(this, this);
  }

  // ---- reductions -----------------------------------------------------------------------------
  sum(axes?: number | number[], keepdim = false): Tensor {
    return ops.sum(this, axes, keepdim);
  }
  max(axes?: number | number[], keepdim = false): Tensor {
    return ops.max(this, axes, keepdim);
  }
  mean(axes?: number | number[], keepdim = false): Tensor {
    return fn.mean(this, axes, keepdim);
  }
  var(axes?: number | number[], keepdim = false, correction = 0): Tensor {
    return fn.variance(this, axes, keepdim, correction);
  }

  // ---- movement -------------------------------------------------------------------------------
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  permute(dims: readonly number[]): Tensor {
    return ops.permute(this, dims);
  }
  transpose(d0 = -2, d1 = -1): Tensor {
    return fn.transpose(this, d0, d1);
  }
  expand(shape: readonly number[]): Tensor {
    return ops.expand(this, shape);
  }
  slice(dim: number, start: number, end?: number): Tensor {
    return ops.slice(this, dim, start, end);
  }
  unsqueeze(dim: number): Tensor {
    return fn.unsqueeze(this, dim);
  }
  squeeze(dim: number): Tensor {
    return fn.squeeze(this, dim);
  }
  flatten(start = 0, end = -1): Tensor {
    return fn.flatten(this, start, end);
  }
  contiguous(): Tensor {
    return ops.contiguous(this);
  }
  clone(): Tensor {
    return ops.copy(this);
  }

  // ---- the rest -------------------------------------------------------------------------------
  matmul(b: Tensor, opts?: { transA?: boolean; transB?: boolean; }): Tensor {
    return ops.matmul(this, b, opts);
  }
  softmax(dim = -1): Tensor {
    return ops.softmax(this, dim);
  }
  /** This tensor converted to f32 or f16 storage (itself when it already is). */
  cast(dtype: 'f32' | 'f16'): Tensor {
    return ops.cast(this, dtype);
  }
  gather(dim: number, index: Tensor): Tensor {
    return ops.gather(this, dim, index);
  }
}

// The elementwise methods, from the op table (read at call time: ops/elementwise.ts may finish
// loading after this module).
for (const [name, d] of Object.entries(ELEMENTWISE)) {
  if (d.arity === 3 || name === 'copy') continue;
  const method = d.arity === 1
    ? function(this: Tensor) {
      return elementwise[name as UnaryName](this);
    }
    : function(this: Tensor, b: Tensor | number) {
      return elementwise[name as BinaryName](this, b);
    };
  Object.defineProperty(Tensor.prototype, name, { value: method, writable: true, configurable: true });
}
