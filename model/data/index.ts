// model/data: the images a run trains and evaluates on. Fashion-MNIST from Debian's IDX files
// (fashion-mnist.ts; the format and its constants in idx.ts, which has no Node imports), a folder
// of JPEG/PNG/WebP images (image-folder.ts, decoded with sharp), the augmentations (transforms.ts),
// the seeded, resumable batch loader (loader.ts) and the PRNG every random choice here draws from
// (prng.ts). Node-only as a whole: it reads files.
export { FASHION_MNIST_DEBIAN_PACKAGE, FASHION_MNIST_DIR, FASHION_MNIST_FILES, fashionMnistDir, hasFashionMnist, loadFashionMnist,
  readIdx } from './fashion-mnist.ts';
export type { FashionMnistSplit, GreyImages } from './fashion-mnist.ts';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_PADDED_MEAN, FASHION_MNIST_PADDED_STD, parseIdx } from './idx.ts';
export { IMAGE_EXTENSIONS, FolderError, ImageReadError, warnSkip, scanImageFolder, decodeShortSide, decodeRgb, fsReason } from './image-folder.ts';
export type { ImageFolderEntry, SkippedImage, ImageFolder, ImageFolderOptions, RgbBytes } from './image-folder.ts';
export { BatchLoader, fashionMnistSource, imageFolderSource } from './loader.ts';
export type { SampleSource, Batch, LoaderOptions, ImageFolderSourceOptions } from './loader.ts';
export { Rng, mixSeed, shuffleInPlace, permutation } from './prng.ts';
export { IMAGENET_MEAN, IMAGENET_STD, roundHalfEven, fromHWCBytes, greyToRgb, pad, crop, hflip, normalize, randomResizedCropParams, resizedCrop,
  pretrainTransform, SMALL_RECIPE_SIZE, smallRecipeTransform } from './transforms.ts';
export type { ImageCHW, Box, PretrainTransformOptions, SmallRecipeOptions } from './transforms.ts';
