// errors: the engine's error classes. Each names the op and the argument, and carries the
// shapes, so a user sees what to fix and a test can match the fields.

/** A shape or argument that an op cannot accept; thrown before anything is dispatched. */
export class ShapeError extends Error {
  override name = 'ShapeError';
  constructor(
    readonly op: string,
    readonly arg: string,
    readonly shapes: readonly (readonly number[])[],
    message: string,
  ) {
    super(`${op}: ${message}`);
  }
}

/** The GPU device reported a validation error, ran out of memory, or was lost. */
export class DeviceError extends Error {
  override name = 'DeviceError';
  constructor(readonly op: string, message: string) {
    super(`${op}: ${message}`);
  }
}

export const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
