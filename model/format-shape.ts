// format-shape: a shape as it reads in error messages, `[2, 3, 4]`.
/** A shape as error messages show it: `[2, 3, 4]`. */
export const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
