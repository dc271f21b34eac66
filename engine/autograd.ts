// autograd: reverse-mode differentiation over the tape recorded by `apply`.
// One topological sort, then a reverse sweep calling each op's backward rule; broadcast
// gradients are summed back to each input's shape in exactly one place (`sumToShape`).
// Leaf gradients accumulate into `.grad` and are kept out of memory scopes (they live until
// the optimizer's zeroGrad disposes them); everything else backward makes belongs to the
// enclosing scope. The tape is released as it is consumed: backward runs once per graph.
import { fmt, ShapeError } from './errors.ts';
import { keep, noGrad } from './runtime.ts';
import { sameShape, type Shape } from './shape.ts';
import type { Tensor } from './tensor.ts';
import { copy, full, reshape, sum } from './ops/table.ts';
import { runBackward } from './ops/op.ts';

/** Sum a broadcast gradient back to `shape` (the inverse of broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) {
    if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  }
  return reshape(axes.length ? sum(g, axes, true) : g, shape);
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, done] = stack.pop()!;
    if (done) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    if (t.tapeReleased) {
      throw new Error(`backward: ${t.name ?? `${t}`} was already backpropagated through, and backward frees the graph as it goes ` +
        '(as PyTorch does without retain_graph); run the forward again to get a new graph');
    }
    seen.add(t);
    stack.push([t, true]);
    for (const i of t.node?.inputs ?? []) if (i.requiresGrad && !seen.has(i)) stack.push([i, false]);
  }
  return order; // inputs before the tensors made from them
}

export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`backward: ${root} does not require grad (no input had requiresGrad, or it was made under noGrad)`);
  if (!grad && root.size !== 1) throw new ShapeError('backward', 'root', [root.shape], `root ${fmt(root.shape)} is not a scalar; pass its gradient`);
  const order = topoOrder(root); // throws on a freed graph before anything is allocated
  noGrad(() => {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, grad ?? full(root.shape, 1, root.backend, root.dtype));
    const handedOut = new Set<Tensor>();
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      grads.delete(t);
      if (!g) continue;
      const node = t.node;
      if (!node) {
        // a leaf: accumulate into .grad, always as a tensor of its own
        const own = handedOut.has(g) || !g.isContiguous || g.offset !== 0 || g === grad ? copy(g) : g;
        handedOut.add(own);
        const next = t.grad ? t.grad.add(own) : own;
        if (t.grad) t.grad.dispose();
        t.grad = keep(next);
        continue;
      }
      const needs = node.inputs.map((x) => x.requiresGrad);
      const gin = runBackward(node, g, t, needs);
      node.inputs.forEach((x, k) => {
        const gi = gin[k];
        if (!needs[k] || !gi) return;
        const shaped = sumToShape(gi, x.shape);
        const prev = grads.get(x);
        grads.set(x, prev ? prev.add(shaped) : shaped);
      });
      t.node = null;
      t.tapeReleased = true;
    }
  });
}
