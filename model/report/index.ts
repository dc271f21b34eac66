// report: a self-contained HTML report of a training run (curves, probe results, mask layouts,
// PCA of patch features), written by `ijepa report RUN_DIR`.
export { writeReport } from './build.ts';
export type { ReportOptions, ReportResult } from './build.ts';
export { lineChart, niceTicks, formatTick } from './charts.ts';
export type { Series, ChartOptions } from './charts.ts';
export { principalComponents, pcaRgb } from './pca.ts';
export { Raster, imageRaster, contextPanel, targetsPanel, patchRgbRaster, grid } from './raster.ts';
