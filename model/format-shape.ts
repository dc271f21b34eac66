// format-shape: a shape as it reads in error messages, `[2, 3, 4]`.
export const fmt = (shape: readonly number[]) => `[${shape.join(', ')}]`;
