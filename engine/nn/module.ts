// module: parameters with names, collected from object fields the way PyTorch's state_dict
// does: a module's own tensors first, then its sub-modules (and arrays of them, indexed) in
// the order they were assigned. Field names therefore *are* the checkpoint names
// (`blocks.0.attn.qkv.weight`), which is why model fields use the official snake_case.
import { keep } from '../runtime.ts';
import { Tensor } from '../tensor.ts';

/** A PyTorch-style module: its tensor fields and sub-modules, by dotted name, are its parameters and state dict; `dispose()` frees them. */
export abstract class Module {
  /** Every tensor field (trainable or frozen), by dotted name, in state_dict order. */
  namedTensors(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const subs: [string, Module][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor) out.push([prefix + key, value]);
      else if (value instanceof Module) subs.push([key, value]);
      else if (Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Module)) {
        value.forEach((m: Module, i) => subs.push([`${key}.${i}`, m]));
      }
    }
    for (const [key, m] of subs) out.push(...m.namedTensors(`${prefix}${key}.`));
    return out;
  }

  /** Tensors that train (requiresGrad), by name. */
  namedParameters(): [string, Tensor][] {
    return this.namedTensors().filter(([, t]) => t.requiresGrad);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** name → tensor for every tensor field, as PyTorch's state_dict. */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedTensors());
  }

  /** Free every tensor the module holds, and their gradients. */
  dispose(): void {
    for (const [, t] of this.namedTensors()) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }
}

/** Mark a tensor as a module parameter: kept outside memory scopes, trainable unless frozen. */
export function parameter(t: Tensor, opts: { trainable?: boolean; } = {}): Tensor {
  keep(t);
  t.requiresGrad = opts.trainable ?? true;
  return t;
}
